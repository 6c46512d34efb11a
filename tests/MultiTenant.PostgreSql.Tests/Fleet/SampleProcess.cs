using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>One sample process, its output kept (bounded) for diagnostics; killed with its process tree when disposed.</summary>
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
