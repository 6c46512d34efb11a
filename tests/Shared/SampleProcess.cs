using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace MultiTenant.Tests.Shared;

/// <summary>
/// The sample server as a real child process (the fleet's kill -9 and SIGTERM tests, the published sample started like its container,
/// the fuzz test, the browser test): its output kept (the last <see cref="KeptLines"/> lines) for failure messages, signals through
/// kill(1), killed with its process tree when disposed. <see cref="WaitUntilListeningAsync"/> awaits Kestrel's "Now listening on" line
/// instead of polling an endpoint. One file linked into every test project that starts the sample.
/// </summary>
public sealed class SampleProcess : IAsyncDisposable
{
    /// <summary>How many of the last output lines are kept.</summary>
    public const int KeptLines = 200;

    /// <summary>What the host logs (category <c>Microsoft.Hosting.Lifetime</c>, Information) once Kestrel listens.</summary>
    public const string ListeningLine = "Now listening on";

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Starts <paramref name="start"/> (its output must be redirected) as host <paramref name="id"/> listening on <paramref name="port"/>;
    /// <paramref name="auditFile"/> is the simulator's audit file of the fleet tests, if any.
    /// </summary>
    public SampleProcess(string id, int port, string? auditFile, ProcessStartInfo start)
    {
        ArgumentNullException.ThrowIfNull(start);
        Id = id;
        Port = port;
        AuditFile = auditFile;
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.Exited += (_, _) => _listening.TrySetException(new InvalidOperationException($"{Id} exited before it listened."));
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Pid = _process.Id;
    }

    public string Id { get; }

    public int Port { get; }

    public int Pid { get; }

    /// <summary>The simulator's audit file (<c>Simulator__AuditFile</c>), or <see langword="null"/>.</summary>
    public string? AuditFile { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public Uri BaseAddress => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}");

    public Uri Url(string path) => new(BaseAddress, path);

    /// <summary>The sample's build output, from the test assembly's <c>MultiTenant.Sample.Dll</c> metadata (set in its project file).</summary>
    public static string BuiltSampleDll(Assembly testAssembly)
    {
        ArgumentNullException.ThrowIfNull(testAssembly);
        string dll = testAssembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "MultiTenant.Sample.Dll").Value!;
        Assert.True(File.Exists(dll), $"The sample is not built at {dll} (the test project builds it through its project reference).");
        return dll;
    }

    /// <summary>
    /// Starts the built sample (<see cref="BuiltSampleDll"/>) from its output folder on a free port (<c>HTTP_PORT</c>) with the test
    /// runner's environment plus <paramref name="environment"/>, and the lifetime log on so that <see cref="WaitUntilListeningAsync"/> works.
    /// </summary>
    public static SampleProcess StartBuilt(
        Assembly testAssembly, IReadOnlyDictionary<string, string> environment, string id = "sample", string? auditFile = null)
    {
        ArgumentNullException.ThrowIfNull(environment);
        string dll = BuiltSampleDll(testAssembly);
        int port = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dll },
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["HTTP_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        KeepLifetimeLog(start);
        return new SampleProcess(id, port, auditFile ?? (start.Environment.TryGetValue("Simulator__AuditFile", out string? audit) ? audit : null), start);
    }

    /// <summary>
    /// Starts the built sample of the test assembly this file is compiled into as process <paramref name="id"/> (see
    /// <see cref="StartBuilt"/>), its audit lines in <paramref name="auditFile"/>, and waits until it listens (bounded by
    /// <paramref name="limit"/>); a process that does not come up is killed before the failure is reported.
    /// </summary>
    public static async Task<SampleProcess> StartAsync(
        string id, IReadOnlyDictionary<string, string> environment, string auditFile, TimeSpan limit)
    {
        var process = StartBuilt(typeof(SampleProcess).Assembly, environment, id, auditFile);
        try
        {
            await process.WaitUntilListeningAsync(limit);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }

        return process;
    }

    /// <summary>
    /// Starts <paramref name="entrypoint"/> the way a container starts it: in <paramref name="workingDirectory"/> with exactly
    /// <paramref name="environment"/> (which names <c>HTTP_PORT</c>) plus PATH and HOME, which a container has too, and, when the
    /// tests run as root, as <paramref name="user"/> (a numeric <c>uid[:gid]</c>, the image's unprivileged USER).
    /// </summary>
    public static SampleProcess Start(string[] entrypoint, string workingDirectory, IReadOnlyDictionary<string, string> environment, string? user)
    {
        ArgumentNullException.ThrowIfNull(entrypoint);
        ArgumentNullException.ThrowIfNull(environment);
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
        return new SampleProcess("sample", port, auditFile: null, start);
    }

    /// <summary>
    /// Sets the lifetime category to Information unless <paramref name="start"/> sets it, so that the host logs
    /// <see cref="ListeningLine"/> whatever the default level (the tests often quiet it to Warning).
    /// </summary>
    public static void KeepLifetimeLog(ProcessStartInfo start)
    {
        ArgumentNullException.ThrowIfNull(start);
        start.Environment.TryAdd("Logging__LogLevel__Microsoft.Hosting.Lifetime", "Information");
    }

    /// <summary>A loopback port that nothing listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Waits until the process logged <see cref="ListeningLine"/> (Kestrel accepts connections from then on); fails at once, with the
    /// output, when the process exits first, and after <paramref name="limit"/> otherwise.
    /// </summary>
    public async Task WaitUntilListeningAsync(TimeSpan limit)
    {
        try
        {
            await _listening.Task.WaitAsync(limit);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            Assert.Fail($"{Id} did not log '{ListeningLine}' ({ex.Message}):{Environment.NewLine}{OutputTail()}");
        }
    }

    /// <summary>SIGKILL, like kill -9.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        Assert.True(_process.WaitForExit(TimeSpan.FromSeconds(10)), $"{Id} did not die from SIGKILL");
    }

    /// <summary>SIGTERM, as the kubelet and docker stop send it (.NET has no API for it, so through kill(1)).</summary>
    public Task TerminateAsync() => SignalAsync("TERM");

    /// <summary>SIGSTOP: the whole process freezes (timers, threads, sockets unread), as in a VM pause.</summary>
    public Task FreezeAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT: the frozen process runs again.</summary>
    public Task ThawAsync() => SignalAsync("CONT");

    /// <summary>Waits for the exit (at most <paramref name="limit"/>) and returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan limit)
    {
        await _process.WaitForExitAsync().WaitAsync(limit);
        return _process.ExitCode;
    }

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

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Pid.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, kill.ExitCode);
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (line.Contains(ListeningLine, StringComparison.Ordinal))
        {
            _listening.TrySetResult();
        }

        _output.Enqueue(line);
        while (_output.Count > KeptLines && _output.TryDequeue(out _))
        {
        }
    }
}
