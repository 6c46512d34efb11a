using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL server of its own for the tests: initdb and pg_ctl from /usr/lib/postgresql/*/bin (as the postgres user when the tests
/// run as root, because postgres refuses root), a fresh temp folder, a free port on 127.0.0.1, trust authentication and no fsync.
/// Can be stopped and started again (database outage tests). Disposing stops it (immediate mode) and deletes the folder.
/// </summary>
public sealed class ThrowawayPostgreSqlServer : IAsyncDisposable
{
    private const string BinariesRoot = "/usr/lib/postgresql";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(90);

    private readonly string _bin;
    private readonly string _root;
    private readonly bool _runAsPostgres;
    private bool _disposed;

    private ThrowawayPostgreSqlServer(string bin, string root, bool runAsPostgres)
    {
        _bin = bin;
        _root = root;
        _runAsPostgres = runAsPostgres;
    }

    /// <summary>The TCP port on 127.0.0.1.</summary>
    public int Port { get; private set; }

    /// <summary>The major version of the binaries (for example 15).</summary>
    public string Version => Path.GetFileName(Path.GetDirectoryName(_bin)!);

    /// <summary>A superuser connection string to the <c>postgres</c> database.</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Database = "postgres",
        Timeout = 5,
    }.ConnectionString;

    private string DataDirectory => Path.Combine(_root, "data");

    private string LogFile => Path.Combine(_root, "server.log");

    /// <summary>Finds the newest PostgreSQL binaries, or returns why none can be used.</summary>
    public static string? FindBinaries(out string? problem)
    {
        problem = null;
        if (!Directory.Exists(BinariesRoot))
        {
            problem = $"{BinariesRoot} does not exist";
            return null;
        }

        string? best = null;
        int bestVersion = -1;
        foreach (string dir in Directory.GetDirectories(BinariesRoot))
        {
            string bin = Path.Combine(dir, "bin");
            if (File.Exists(Path.Combine(bin, "initdb")) && File.Exists(Path.Combine(bin, "pg_ctl"))
                && int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int version) && version > bestVersion)
            {
                best = bin;
                bestVersion = version;
            }
        }

        if (best is null)
        {
            problem = $"no {BinariesRoot}/*/bin holds initdb and pg_ctl";
        }

        return best;
    }

    /// <summary>Creates and starts a server. Throws with a clear message when it cannot.</summary>
    public static async Task<ThrowawayPostgreSqlServer> StartNewAsync()
    {
        string bin = FindBinaries(out string? problem)
            ?? throw new InvalidOperationException(
                $"Cannot provision a throwaway PostgreSQL server: {problem}. Install the server (apt-get install postgresql) or set TEST_DATABASE_URL.");

        bool runAsPostgres = Environment.IsPrivilegedProcess;
        string root = Directory.CreateTempSubdirectory("multitenant-pg-").FullName;
        var server = new ThrowawayPostgreSqlServer(bin, root, runAsPostgres);
        try
        {
            if (runAsPostgres)
            {
                await RunAsync("chown", ["postgres:postgres", root], asPostgres: false).ConfigureAwait(false);
            }

            await server.RunToolAsync(
                "initdb",
                ["-D", server.DataDirectory, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"])
                .ConfigureAwait(false);

            // A free port can be taken between the probe and the start; try a few.
            for (int attempt = 1; ; attempt++)
            {
                server.Port = FindFreePort();
                try
                {
                    await server.StartAsync().ConfigureAwait(false);
                    return server;
                }
                catch (InvalidOperationException) when (attempt < 3)
                {
                    // Try another port.
                }
            }
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts the server (again), waiting until it accepts connections.</summary>
    public Task StartAsync()
    {
        string options = string.Join(
            ' ',
            "-c listen_addresses=127.0.0.1",
            "-c port=" + Port.ToString(CultureInfo.InvariantCulture),
            "-c unix_socket_directories=" + _root,
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            "-c max_connections=300 -c shared_buffers=32MB");
        return RunToolAsync("pg_ctl", ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "-o", options, "start"]);
    }

    /// <summary><c>pg_ctl restart</c> (fast mode, the same options): every connection is closed, the server is back when this returns.</summary>
    public Task RestartAsync() => RunToolAsync("pg_ctl", ["-D", DataDirectory, "-l", LogFile, "-m", "fast", "-w", "-t", "60", "restart"]);

    /// <summary>Stops the server (fast mode: connections are closed at once), waiting until it is down.</summary>
    public Task StopAsync() => RunToolAsync("pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"]);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            {
                await RunToolAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"]).ConfigureAwait(false);
            }
        }
        finally
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private Task RunToolAsync(string tool, string[] arguments) => RunAsync(Path.Combine(_bin, tool), arguments, _runAsPostgres, LogFile);

    private static async Task RunAsync(string fileName, string[] arguments, bool asPostgres, string? logFile = null)
    {
        var start = new ProcessStartInfo
        {
            FileName = asPostgres ? "runuser" : fileName,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres)
        {
            foreach (string a in (string[])["-u", "postgres", "--", fileName])
            {
                start.ArgumentList.Add(a);
            }
        }

        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not run {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Path.GetFileName(fileName)} did not finish within {CommandTimeout}.");
        }

        if (process.ExitCode != 0)
        {
            string log = logFile is not null && File.Exists(logFile) ? await File.ReadAllTextAsync(logFile).ConfigureAwait(false) : string.Empty;
            throw new InvalidOperationException(
                $"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await stdout.ConfigureAwait(false)}\n{await stderr.ConfigureAwait(false)}\n{log}");
        }
    }

    private static int FindFreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
