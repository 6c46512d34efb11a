// The tests start the sample as a Linux process (the deployment tests' SampleProcess) and drive Debian's chromium.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
