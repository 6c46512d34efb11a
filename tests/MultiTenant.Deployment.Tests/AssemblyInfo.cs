// The tests start processes the way a Linux container does (SIGTERM through kill(1), setpriv, bash for the HEALTHCHECK).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
