using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace MultiTenant.Deployment.Tests.Infrastructure;

/// <summary>
/// The published sample as a process started the way the container starts it: the image's ENTRYPOINT in its WORKDIR (the publish
/// folder), with only the environment given (the image's ENV and the manifest's env, not the test runner's), and, when the tests
/// run as root, as the image's unprivileged USER. Output kept (bounded) for diagnostics; killed with its tree when disposed.
/// </summary>
public sealed class SampleProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private SampleProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Pid = _process.Id;
    }

    public int Port { get; }

    public int Pid { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>
    /// Starts <paramref name="entrypoint"/> in <paramref name="workingDirectory"/> with exactly <paramref name="environment"/> (plus
    /// PATH and HOME, which a container has too). <paramref name="user"/> is a numeric <c>uid[:gid]</c> taken when running as root.
    /// </summary>
    public static SampleProcess Start(string[] entrypoint, string workingDirectory, IReadOnlyDictionary<string, string> environment, string? user)
    {
        var start = new ProcessStartInfo
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        IEnumerable<string> command = entrypoint;
        if (user is not null && Environment.IsPrivilegedProcess)
        {
            string[] ids = user.Split(':');
            string uid = ids[0];
            string gid = ids.Length > 1 ? ids[1] : ids[0];
            command = ["setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--", .. entrypoint];
        }

        start.FileName = command.First();
        foreach (string argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Clear();
        start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH");
        start.Environment["HOME"] = Path.GetTempPath();
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        int port = int.Parse(environment["HTTP_PORT"], NumberStyles.None, CultureInfo.InvariantCulture);
        return new SampleProcess(new Process { StartInfo = start }, port);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public Uri Url(string path) => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}{path}");

    /// <summary>SIGTERM, as the kubelet and docker stop send it (.NET has no API for it, so through kill(1)).</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start("kill", ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, kill.ExitCode);
    }

    public Task WaitForExitAsync(TimeSpan limit) => _process.WaitForExitAsync().WaitAsync(limit);

    public string OutputTail() => string.Join(Environment.NewLine, _output);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 60 && _output.TryDequeue(out _))
        {
        }
    }
}
