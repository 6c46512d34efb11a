using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>
/// One sample process, its output kept (bounded) for diagnostics; killed with its process tree when disposed. Linked into every test
/// project that runs the sample as processes (the project builds the sample through a project reference and names its dll in the
/// assembly metadata <c>MultiTenant.Sample.Dll</c>).
/// </summary>
internal sealed class SampleProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    public SampleProcess(string id, int port, string auditFile, ProcessStartInfo start)
    {
        Id = id;
        Port = port;
        AuditFile = auditFile;
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Pid = _process.Id;
    }

    /// <summary>
    /// Runs the sample's dll as process <paramref name="id"/> on a free port (<c>HTTP_PORT</c>) with <paramref name="environment"/>,
    /// and waits (bounded by <paramref name="limit"/>) until it answers <c>/livez</c>.
    /// </summary>
    public static async Task<SampleProcess> StartAsync(
        string id, IReadOnlyDictionary<string, string> environment, string auditFile, HttpClient http, TimeSpan limit)
    {
        string dll = typeof(SampleProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(attribute => attribute.Key == "MultiTenant.Sample.Dll").Value!;
        Assert.True(File.Exists(dll), $"The sample is not built at {dll} (the test project builds it through its project reference).");

        int port = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dll },
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.Environment["HTTP_PORT"] = port.ToString(CultureInfo.InvariantCulture);
        var process = new SampleProcess(id, port, auditFile, start);
        try
        {
            await Eventually.UntilAsync(
                async () =>
                {
                    Assert.False(process.HasExited, $"{id} exited at start:{Environment.NewLine}{process.OutputTail()}");
                    try
                    {
                        using var response = await http.GetAsync(process.Url("/livez"));
                        return response.IsSuccessStatusCode;
                    }
                    catch (HttpRequestException)
                    {
                        return false;
                    }
                },
                $"{id} answers /livez",
                limit);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }

        return process;
    }

    public string Id { get; }

    public int Port { get; }

    public int Pid { get; }

    public string AuditFile { get; }

    public bool HasExited => _process.HasExited;

    public Uri Url(string path) => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}{path}");

    /// <summary>SIGKILL, like kill -9.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        Assert.True(_process.WaitForExit(TimeSpan.FromSeconds(10)), $"{Id} did not die from SIGKILL");
    }

    /// <summary>SIGTERM (.NET has no API for it, so through kill(1)).</summary>
    public Task TerminateAsync() => SignalAsync("TERM");

    /// <summary>SIGSTOP: the whole process freezes (timers, threads, sockets unread), as in a VM pause.</summary>
    public Task FreezeAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT: the frozen process runs again.</summary>
    public Task ThawAsync() => SignalAsync("CONT");

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Pid.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, kill.ExitCode);
    }

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

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 40 && _output.TryDequeue(out _))
        {
        }
    }
}
