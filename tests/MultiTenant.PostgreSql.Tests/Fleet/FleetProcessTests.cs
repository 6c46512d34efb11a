using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Serialization;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>
/// The fleet as real processes (issue 4; the fast essence of tools/fleet-measure.sh): the sample's dll run as three processes on one
/// database with short lease timings, one killed with SIGKILL and one stopped with SIGTERM, the survivors ending up with every tenant,
/// and the clients' audit files (Simulator:AuditFile) showing that no tenant ever ran on two processes at once.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class FleetProcessTests(PostgreSqlFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private const int TenantCount = 60;
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(30);

    // An Orleans silo joins the cluster before the host answers (it probes every active silo first): on the shared 2-core machine
    // under load that takes longer than the fleet's own start.
    private static readonly TimeSpan OrleansStartLimit = TimeSpan.FromSeconds(120);

    private readonly List<SampleProcess> _hosts = [];
    // The sample's admin API key (API_KEY), sent with every call: the tenant API is never open.
    private const string ApiKey = "fleet-process-test-admin-key";

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10), DefaultRequestHeaders = { { "Authorization", "Bearer " + ApiKey } } };
    private readonly string _directory = Directory.CreateTempSubdirectory("mt-fleet-process-").FullName;
    private string _database = null!;

    public async Task InitializeAsync() => _database = await fixture.GetDatabaseAsync(nameof(FleetProcessTests));

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
            output.WriteLine($"{host.Id} (pid {host.Pid}) output, last lines:{Environment.NewLine}{host.OutputTail()}");
        }

        _http.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData("PostgreSql")]
    [InlineData("Orleans")]
    public async Task Survivors_of_a_kill_and_a_sigterm_own_every_tenant_and_none_ran_twice_at_once(string engine)
    {
        // A database per engine: both cases start the same tenants.
        string database = await fixture.CreateDatabaseAsync("fleetproc" + engine);
        var a = await StartHostAsync("a", database, engine: engine);
        var others = await Task.WhenAll(StartHostAsync("b", database, engine: engine), StartHostAsync("c", database, engine: engine));
        var hosts = new[] { a, others[0], others[1] };

        var tenants = Enumerable.Range(1, TenantCount).Select(i => "proc" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        await Task.WhenAll(tenants.Select(async tenant =>
        {
            using var response = await _http.PostAsJsonAsync(a.Url("/api/tenants"), new { business_id = tenant });
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }));

        var placed = await WaitUntilAllConnectedAsync(a, hosts, requireEveryHost: true, "every tenant connected, spread over the three hosts");
        output.WriteLine("placed: " + Describe(placed));

        // kill -9 of the host that owns the most tenants.
        var killed = hosts.OrderByDescending(h => placed.Count(s => s.Host == h.Id)).First();
        var survivors = hosts.Where(h => h != killed).ToArray();
        long killedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        long killedAt = Stopwatch.GetTimestamp();
        killed.Kill();
        var afterKill = await WaitUntilAllConnectedAsync(survivors[0], survivors, requireEveryHost: false, $"every tenant connected on the survivors of {killed.Id}");
        TimeSpan failover = Stopwatch.GetElapsedTime(killedAt);
        output.WriteLine($"kill -9 of {killed.Id} (owning {placed.Count(s => s.Host == killed.Id)}): every tenant connected on the survivors after {failover.TotalMilliseconds:F0} ms; {Describe(afterKill)}");

        // SIGTERM of the survivor that owns the most; the last one must end up with everything, and the stopped one exit cleanly.
        var terminated = survivors.OrderByDescending(h => afterKill.Count(s => s.Host == h.Id)).First();
        var last = survivors.Single(h => h != terminated);
        int handedOver = afterKill.Count(s => s.Host == terminated.Id);
        long terminatedAt = Stopwatch.GetTimestamp();
        await terminated.TerminateAsync();
        await WaitUntilAllConnectedAsync(last, [last], requireEveryHost: false, $"every tenant connected on {last.Id} after SIGTERM of {terminated.Id}");
        TimeSpan handoff = Stopwatch.GetElapsedTime(terminatedAt);
        int exitCode = await terminated.WaitForExitAsync(WaitLimit);
        TimeSpan exited = Stopwatch.GetElapsedTime(terminatedAt);
        output.WriteLine($"SIGTERM of {terminated.Id} (owning {handedOver}): all {TenantCount} on {last.Id} after {handoff.TotalMilliseconds:F0} ms; exited {exitCode} after {exited.TotalMilliseconds:F0} ms");
        Assert.Equal(0, exitCode);

        var intervals = ReadAudit(hosts, killed, killedAtMs);
        Assert.Equal(tenants.Order(StringComparer.Ordinal), intervals.Keys.Order(StringComparer.Ordinal));
        var overlaps = FindOverlaps(intervals);
        output.WriteLine($"ownership intervals: {intervals.Values.Sum(list => list.Count)}, overlaps: {overlaps.Count}");
        Assert.True(overlaps.Count == 0, "Tenants ran on two processes at once:" + Environment.NewLine + string.Join(Environment.NewLine, overlaps));

        // The stopped host closed every client it had; only the last host still runs (open intervals), and it runs them all.
        Assert.All(intervals.Values, list => Assert.Equal(last.Id, Assert.Single(list, i => i.End == long.MaxValue).Host));
    }

    /// <summary>
    /// Chaos with real processes (issue 11): PostgreSQL restarted with <c>pg_ctl restart</c> mid-run, the busiest host frozen with SIGSTOP
    /// until the others claimed its tenants and then thawed with a burst of sends through it for exactly those tenants, and a host killed
    /// with SIGKILL. The audit files (open, send, close, with the ownership epoch) must show: every epoch of a tenant on one host only,
    /// epochs rising with time, no act (client start or send) under an epoch a newer one had replaced, no two runs of a tenant at once
    /// (the frozen host's runs count until the freeze: it did nothing while frozen, and closed them after the thaw), and in the end every
    /// tenant running exactly once.
    /// </summary>
    [Fact]
    public async Task Chaos_a_database_restart_a_frozen_host_and_a_kill_never_let_two_hosts_act_for_one_tenant()
    {
        // A server of its own: the test restarts it.
        await using var server = await ThrowawayPostgreSqlServer.StartNewAsync();
        string database = server.ConnectionString;
        var hosts = await Task.WhenAll(StartHostAsync("x", database), StartHostAsync("y", database), StartHostAsync("z", database));
        var tenants = Enumerable.Range(1, TenantCount).Select(i => "chaos" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        await Task.WhenAll(tenants.Select(async tenant =>
        {
            using var response = await _http.PostAsJsonAsync(hosts[0].Url("/api/tenants"), new { business_id = tenant });
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }));
        var placed = await WaitUntilAllConnectedAsync(hosts[0], hosts, requireEveryHost: true, "every tenant connected, spread over the three hosts");
        output.WriteLine("placed: " + Describe(placed));

        // 1. The database restarts under the fleet.
        long restartStarted = Stopwatch.GetTimestamp();
        await server.RestartAsync();
        placed = await WaitUntilAllConnectedAsync(hosts[0], hosts, requireEveryHost: false, "every tenant connected again after pg_ctl restart");
        output.WriteLine($"pg_ctl restart: every tenant connected again after {Stopwatch.GetElapsedTime(restartStarted).TotalMilliseconds:F0} ms; {Describe(placed)}");

        // 2. SIGSTOP of the busiest host, past its leases: the others claim its tenants. Then SIGCONT, and at once a send through the
        // thawed host for every tenant it lost (it must relay them to the new owners, never send under its old epochs).
        var frozen = hosts.OrderByDescending(h => placed.Count(s => s.Host == h.Id)).First();
        var others = hosts.Where(h => h != frozen).ToArray();
        var lost = placed.Where(s => s.Host == frozen.Id).Select(s => s.BusinessId).ToArray();
        long frozenAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await frozen.FreezeAsync();
        var claimed = await WaitUntilAllConnectedAsync(others[0], others, requireEveryHost: false, $"every tenant connected on the hosts other than the frozen {frozen.Id}");
        output.WriteLine($"SIGSTOP of {frozen.Id} (owning {lost.Length}): claimed by the others after {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - frozenAtMs} ms; {Describe(claimed)}");
        long thawedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await frozen.ThawAsync();
        var sends = await Task.WhenAll(lost.Select(async tenant =>
        {
            try
            {
                using var response = await _http.PostAsJsonAsync(frozen.Url($"/api/tenants/{tenant}/messages"), new { to = "15550001111", text = "after the thaw" });
                return (int)response.StatusCode;
            }
            catch (HttpRequestException)
            {
                return 0;
            }
        }));
        output.WriteLine("sends through the thawed host: " + string.Join(", ", sends.GroupBy(c => c).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Count()}")));
        var afterThaw = await WaitUntilAllConnectedAsync(others[0], hosts, requireEveryHost: false, "every tenant connected after the thaw");

        // 3. SIGKILL of the busiest host.
        var killed = hosts.OrderByDescending(h => afterThaw.Count(s => s.Host == h.Id)).First();
        var survivors = hosts.Where(h => h != killed).ToArray();
        long killedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        killed.Kill();
        var final = await WaitUntilAllConnectedAsync(survivors[0], survivors, requireEveryHost: false, $"every tenant connected on the survivors of {killed.Id}");
        output.WriteLine($"kill -9 of {killed.Id}: every tenant connected on the survivors after {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - killedAtMs} ms; {Describe(final)}");

        var audit = hosts.SelectMany(h => ReadAuditLines(h)).ToList();
        var problems = CheckChaosAudit(audit, tenants, frozen.Id, frozenAtMs, thawedAtMs, killed.Id, killedAtMs, survivors.Select(h => h.Id).ToHashSet());
        output.WriteLine($"audit: {audit.Count(l => l.What == "open")} runs, {audit.Count(l => l.What == "send")} sends, problems: {problems.Count}");
        Assert.True(problems.Count == 0, "Chaos audit:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Take(20)));
    }

    /// <summary>
    /// One runner per tenant with real processes and nothing but <c>DATABASE_URL</c> (issue 11): a rolling deploy of the sample with the
    /// default fleet options, the new process started while the old one runs every tenant, then the old one stopped with SIGTERM. The
    /// audit files must show no tenant on two processes at once, the new process taking its share while both run, and all at the end.
    /// </summary>
    [Fact]
    public async Task Two_processes_on_one_database_with_default_options_never_run_one_tenant_twice_through_a_rolling_deploy()
    {
        // A database of its own: the other tests of this class leave their tenants desired-running in theirs.
        string database = await fixture.CreateDatabaseAsync("rolling");
        var old = await StartHostAsync("old", database, defaultFleetOptions: true);
        var tenants = Enumerable.Range(1, TenantCount).Select(i => "roll" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        await Task.WhenAll(tenants.Select(async tenant =>
        {
            using var response = await _http.PostAsJsonAsync(old.Url("/api/tenants"), new { business_id = tenant });
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }));
        await WaitUntilAllConnectedAsync(old, [old], requireEveryHost: true, "every tenant connected on the old process");

        var next = await StartHostAsync("new", database, defaultFleetOptions: true);
        var shared = await WaitUntilAllConnectedAsync(old, [old, next], requireEveryHost: true, "every tenant connected, shared by both processes");
        output.WriteLine("both up: " + Describe(shared));

        await old.TerminateAsync();
        await WaitUntilAllConnectedAsync(next, [next], requireEveryHost: false, "every tenant connected on the new process after SIGTERM of the old");
        Assert.Equal(0, await old.WaitForExitAsync(WaitLimit));

        var intervals = ReadAudit([old, next], killed: null, killedAtMs: 0);
        Assert.Equal(tenants.Order(StringComparer.Ordinal), intervals.Keys.Order(StringComparer.Ordinal));
        var overlaps = FindOverlaps(intervals);
        output.WriteLine($"ownership intervals: {intervals.Values.Sum(list => list.Count)}, overlaps: {overlaps.Count}");
        Assert.True(overlaps.Count == 0, "Tenants ran on two processes at once:" + Environment.NewLine + string.Join(Environment.NewLine, overlaps));
        Assert.All(intervals.Values, list => Assert.Equal(next.Id, Assert.Single(list, i => i.End == long.MaxValue).Host));
    }

    private static IEnumerable<AuditLine> ReadAuditLines(SampleProcess host)
    {
        foreach (string line in host.AuditFile is { } audit && File.Exists(audit) ? File.ReadAllLines(audit) : [])
        {
            string[] parts = line.Split(' ');
            if (parts.Length == 5)
            {
                yield return new AuditLine(
                    parts[0], parts[1], parts[2], long.Parse(parts[3], CultureInfo.InvariantCulture), long.Parse(parts[4], CultureInfo.InvariantCulture));
            }
        }
    }

    private static List<string> CheckChaosAudit(
        List<AuditLine> audit, string[] tenants, string frozen, long frozenAtMs, long thawedAtMs, string killed, long killedAtMs, HashSet<string> survivors)
    {
        var problems = new List<string>();
        foreach (var byTenant in audit.GroupBy(l => l.Tenant))
        {
            var opens = byTenant.Where(l => l.What == "open").OrderBy(l => l.AtMs).ToList();

            // Every epoch on one host, once; epochs rising with time.
            problems.AddRange(opens.GroupBy(o => o.Epoch).Where(g => g.Count() > 1).Select(g => $"{byTenant.Key}: epoch {g.Key} opened {g.Count()} times: {string.Join(", ", g)}"));
            for (int i = 1; i < opens.Count; i++)
            {
                if (opens[i].Epoch <= opens[i - 1].Epoch)
                {
                    problems.Add($"{byTenant.Key}: epoch not rising: {opens[i - 1]} then {opens[i]}");
                }
            }

            // No act (a start, a send) under an epoch that a newer one had replaced by then.
            foreach (var act in byTenant.Where(l => l.What is "open" or "send"))
            {
                if (opens.FirstOrDefault(o => o.Epoch > act.Epoch && o.AtMs < act.AtMs) is { } newer)
                {
                    problems.Add($"{byTenant.Key}: {act} under a superseded epoch ({newer} came first)");
                }
            }

            // Runs: open to close; one open in the killed process ends at the kill, one open elsewhere runs now. A run of the frozen host
            // that spanned the freeze counts until the freeze (the process did nothing while stopped) and must close soon after the thaw.
            var runs = new List<(string Host, long Epoch, long Start, long End)>();
            foreach (var open in opens)
            {
                var close = byTenant.FirstOrDefault(l => l.What == "close" && l.Host == open.Host && l.Epoch == open.Epoch);
                long end = close?.AtMs ?? (open.Host == killed ? killedAtMs : long.MaxValue);
                if (open.Host == frozen && open.AtMs < frozenAtMs && end > frozenAtMs)
                {
                    if (end > thawedAtMs + 10_000 && open.Host != killed)
                    {
                        problems.Add($"{byTenant.Key}: the frozen host's run {open} did not end within 10 s of the thaw (end {end})");
                    }

                    end = frozenAtMs;
                }

                runs.Add((open.Host, open.Epoch, open.AtMs, end));
            }

            runs.Sort((a, b) => a.Start.CompareTo(b.Start));
            for (int i = 1; i < runs.Count; i++)
            {
                if (runs[i - 1].End > runs[i].Start)
                {
                    problems.Add($"{byTenant.Key}: runs overlap: {runs[i - 1]} and {runs[i]}");
                }
            }

            var running = runs.Where(r => r.End == long.MaxValue).ToList();
            if (running.Count != 1 || !survivors.Contains(running[0].Host))
            {
                problems.Add($"{byTenant.Key}: expected one run on a survivor at the end, found {string.Join(", ", running)}");
            }
        }

        problems.AddRange(tenants.Except(audit.Select(l => l.Tenant)).Select(t => $"{t}: never ran"));
        return problems;
    }

    /// <param name="engine">The fleet's placement (<c>WhatsAppTenants:Fleet:Engine</c>): PostgreSql (the fleet's own) or Orleans.</param>
    private async Task<SampleProcess> StartHostAsync(string name, string? database = null, bool defaultFleetOptions = false, string engine = "PostgreSql")
    {
        string id = "proc-" + name;
        var connection = new NpgsqlConnectionStringBuilder(database ?? _database) { ApplicationName = id, MaxPoolSize = 10 };
        string audit = Path.Combine(_directory, $"audit-{id}.log");
        var environment = new Dictionary<string, string>
        {
            ["DATABASE_URL"] = connection.ConnectionString,
            ["HOST_ID"] = id,
            ["API_KEY"] = ApiKey,
            ["WhatsAppTenants__Secrets__KeyEncryptionKey"] = SecretScan.KeyEncryptionKey,

            // The tests start tenants in bursts: the API's rate limits are not what they measure.
            ["WhatsAppTenants__Api__RateLimits__Enabled"] = "false",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Simulator__ConnectDelayMin"] = "00:00:00",
            ["Simulator__ConnectDelayMax"] = "00:00:00.050",
            ["Simulator__AuditFile"] = audit,
            // Short leases for speed (valid: renew ≤ (TTL − margin) / 2); dead after 3 missed heartbeats = 1.5 s.
            ["WhatsAppTenants__Fleet__LeaseTtl"] = "00:00:03",
            ["WhatsAppTenants__Fleet__RenewInterval"] = "00:00:00.500",
            ["WhatsAppTenants__Fleet__SafetyMargin"] = "00:00:01",
            ["WhatsAppTenants__Fleet__HeartbeatInterval"] = "00:00:00.500",
            ["WhatsAppTenants__Fleet__ReconcileInterval"] = "00:00:00.250",
        };
        if (defaultFleetOptions)
        {
            foreach (string key in environment.Keys.Where(k => k.StartsWith("WhatsAppTenants__Fleet__", StringComparison.Ordinal)).ToList())
            {
                environment.Remove(key);
            }
        }

        environment["WhatsAppTenants__Fleet__Engine"] = engine;
        environment["WhatsAppTenants__Fleet__Orleans__SiloPort"] = SampleProcess.FreePort().ToString(CultureInfo.InvariantCulture);
        environment["WhatsAppTenants__Fleet__Orleans__GatewayPort"] = SampleProcess.FreePort().ToString(CultureInfo.InvariantCulture);
        var host = await SampleProcess.StartAsync(id, environment, audit, engine == "Orleans" ? OrleansStartLimit : WaitLimit);
        _hosts.Add(host);
        return host;
    }

    /// <summary>Polls <c>GET /api/tenants</c> until every tenant is connected on one of <paramref name="owners"/>.</summary>
    private async Task<TenantStatusBody[]> WaitUntilAllConnectedAsync(SampleProcess via, SampleProcess[] owners, bool requireEveryHost, string description)
    {
        var ids = owners.Select(h => h.Id).ToHashSet(StringComparer.Ordinal);
        return await Eventually.UntilAsync(
            async () =>
            {
                try
                {
                    return await _http.GetFromJsonAsync<TenantStatusBody[]>(via.Url("/api/tenants")) ?? [];
                }
                catch (HttpRequestException)
                {
                    return [];
                }
            },
            statuses => statuses.Length == TenantCount
                && statuses.All(s => s.Status == "connected" && s.Host is not null && ids.Contains(s.Host))
                && (!requireEveryHost || ids.All(id => statuses.Any(s => s.Host == id))),
            description,
            WaitLimit);
    }

    /// <summary>
    /// Every client's ownership interval (open to close, Unix ms) per tenant from the processes' audit files. An interval still open in
    /// the killed process ends at the kill; one still open elsewhere is running now (it ends at <see cref="long.MaxValue"/>).
    /// </summary>
    private static Dictionary<string, List<Ownership>> ReadAudit(SampleProcess[] hosts, SampleProcess? killed, long killedAtMs)
    {
        var intervals = new Dictionary<string, List<Ownership>>(StringComparer.Ordinal);
        foreach (var host in hosts)
        {
            var open = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (string line in host.AuditFile is { } audit && File.Exists(audit) ? File.ReadAllLines(audit) : [])
            {
                string[] parts = line.Split(' ');
                if (parts.Length != 5 || parts[0] == "send")
                {
                    continue; // the killed process may have died mid-line; sends are not ownership changes
                }

                Assert.Equal(host.Id, parts[2]);
                long at = long.Parse(parts[3], CultureInfo.InvariantCulture);
                if (parts[0] == "open")
                {
                    Assert.True(open.TryAdd(parts[1], at), $"{parts[1]} opened twice on {host.Id} without a close");
                }
                else
                {
                    Assert.True(open.Remove(parts[1], out long opened), $"{parts[1]} closed on {host.Id} without an open");
                    Add(parts[1], new Ownership(host.Id, opened, at));
                }
            }

            foreach (var (tenant, opened) in open)
            {
                Add(tenant, new Ownership(host.Id, opened, host == killed ? killedAtMs : long.MaxValue));
            }
        }

        return intervals;

        void Add(string tenant, Ownership ownership)
        {
            if (!intervals.TryGetValue(tenant, out var list))
            {
                intervals[tenant] = list = [];
            }

            list.Add(ownership);
        }
    }

    private static List<string> FindOverlaps(Dictionary<string, List<Ownership>> intervals)
    {
        var overlaps = new List<string>();
        foreach (var (tenant, list) in intervals)
        {
            Ownership? latest = null;
            foreach (var ownership in list.OrderBy(o => o.Start))
            {
                if (latest is { } previous && previous.End > ownership.Start)
                {
                    overlaps.Add($"{tenant}: {previous} and {ownership}");
                }

                if (latest is null || ownership.End > latest.Value.End)
                {
                    latest = ownership;
                }
            }
        }

        return overlaps;
    }

    private static string Describe(TenantStatusBody[] statuses) =>
        string.Join(", ", statuses.GroupBy(s => s.Host).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}={g.Count()}"));

    private readonly record struct Ownership(string Host, long Start, long End);

    private sealed record AuditLine(string What, string Tenant, string Host, long AtMs, long Epoch);

    private sealed record TenantStatusBody(
        [property: JsonPropertyName("business_id")] string BusinessId,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("host")] string? Host);
}
