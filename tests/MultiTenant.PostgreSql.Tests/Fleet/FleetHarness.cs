using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MultiTenant.Clients;
using MultiTenant.Hosting;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>One (tenant, host, epoch) ownership interval, from the client's creation to its disposal (monotonic timestamps).</summary>
public sealed class OwnershipInterval(TenantId tenant, string host, long epoch, long from)
{
    private long _to = long.MaxValue;

    public TenantId Tenant { get; } = tenant;

    public string Host { get; } = host;

    public long Epoch { get; } = epoch;

    public long From { get; } = from;

    public long To => Volatile.Read(ref _to);

    public bool IsOpen => To == long.MaxValue;

    public void Close() => Volatile.Write(ref _to, Stopwatch.GetTimestamp());

    public override string ToString() => $"{Tenant}@{Host}#{Epoch} [{From}..{(IsOpen ? "open" : To)}]";
}

/// <summary>
/// The history checker: records every ownership interval as the clients see it (created → disposed) across all hosts of a fleet, and
/// fails on any overlap of two intervals of one tenant.
/// </summary>
public sealed class OwnershipHistory
{
    private readonly ConcurrentQueue<OwnershipInterval> _intervals = new();

    public IReadOnlyCollection<OwnershipInterval> Intervals => _intervals;

    public OwnershipInterval Open(TenantId tenant, string host, long epoch)
    {
        var interval = new OwnershipInterval(tenant, host, epoch, Stopwatch.GetTimestamp());
        _intervals.Enqueue(interval);
        return interval;
    }

    /// <summary>The hosts on which each tenant runs now (open intervals).</summary>
    public Dictionary<TenantId, List<string>> Running()
    {
        var running = new Dictionary<TenantId, List<string>>();
        foreach (var interval in _intervals)
        {
            if (interval.IsOpen)
            {
                if (!running.TryGetValue(interval.Tenant, out var hosts))
                {
                    running[interval.Tenant] = hosts = [];
                }

                hosts.Add(interval.Host);
            }
        }

        return running;
    }

    /// <summary>Fails on any overlap; intervals of <paramref name="frozenHost"/> (a host the test froze as a whole) are left out.</summary>
    public void AssertNoOverlap(string? frozenHost = null)
    {
        foreach (var group in _intervals.Where(i => i.Host != frozenHost).GroupBy(i => i.Tenant))
        {
            var ordered = group.OrderBy(i => i.From).ToList();
            for (int i = 1; i < ordered.Count; i++)
            {
                var previous = ordered[i - 1];
                var next = ordered[i];
                Assert.True(previous.To <= next.From, $"Ownership overlap: {previous} and {next}");
                if (previous.Epoch >= 0 && next.Epoch >= 0 && next.Host != previous.Host)
                {
                    Assert.True(next.Epoch > previous.Epoch, $"A new owner must have a higher epoch: {previous} then {next}");
                }
            }
        }
    }
}

/// <summary>A client factory of one host that records ownership intervals in the shared history. Clients connect at once and send
/// every kind (no limits).</summary>
internal sealed class RecordingClientFactory(OwnershipHistory history, string host) : ITenantClientFactory, ITenantClientMessageKinds
{
    public bool CanSend(string kind) => true;

    public void Validate(OutboundMessage message)
    {
    }

    public FleetMember? Member { get; set; }

    public ConcurrentDictionary<TenantId, TenantClientContext> Contexts { get; } = new();

    /// <summary>How this host's clients send; by default they answer the message id <c>m</c>.</summary>
    public Func<TenantId, OutboundMessage, Task<SendMessageResult>>? Send { get; set; }

    public ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken)
    {
        Contexts[context.BusinessId] = context;
        var interval = history.Open(context.BusinessId, host, Member?.GetEpoch(context.BusinessId) ?? -1);
        var tenant = context.BusinessId;
        return ValueTask.FromResult<ITenantClient>(new InstantClient(
            send: message => Send?.Invoke(tenant, message) ?? Task.FromResult(new SendMessageResult("m")),
            onDispose: interval.Close));
    }
}

/// <summary>One host of an in-process fleet: a real generic host with its own coordinator, fleet member and data source.</summary>
internal sealed class FleetTestHost(string id, IHost host, RecordingClientFactory factory) : IAsyncDisposable
{
    private bool _stopped;

    public string Id { get; } = id;

    public IHost Host { get; } = host;

    public RecordingClientFactory Factory { get; } = factory;

    public ITenantCoordinator Coordinator => Host.Services.GetRequiredService<ITenantCoordinator>();

    public FleetMember Member => Host.Services.GetRequiredService<FleetMember>();

    /// <summary>Graceful stop (SIGTERM): hands the tenants over.</summary>
    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await Host.StopAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Host.Dispose();
    }
}

/// <summary>
/// An in-process fleet on one database schema: several hosts with distinct host ids, short fleet timings (lease 2 s) so failover tests
/// take seconds, and one shared ownership history.
/// </summary>
internal sealed class FleetHarness(string connectionString, string schema) : IAsyncDisposable
{
    private readonly List<FleetTestHost> _hosts = [];

    public string ConnectionString { get; } = connectionString;

    public string Schema { get; } = schema;

    public OwnershipHistory History { get; } = new();

    public IReadOnlyList<FleetTestHost> Hosts => _hosts;

    public static void FastTimings(FleetOptions o)
    {
        o.LeaseTtl = TimeSpan.FromSeconds(2);
        o.RenewInterval = TimeSpan.FromMilliseconds(500);
        o.SafetyMargin = TimeSpan.FromMilliseconds(700);
        o.HeartbeatInterval = TimeSpan.FromMilliseconds(300);
        o.DeadAfterMissedHeartbeats = 3;
        o.ReconcileInterval = TimeSpan.FromMilliseconds(250);
    }

    public async Task<FleetTestHost> AddHostAsync(
        string id, string? connectionString = null, Action<FleetOptions>? configure = null, Action<IServiceCollection>? services = null,
        Action<TenantCoordinatorOptions>? coordinator = null, int maxPoolSize = 10)
    {
        var factory = new RecordingClientFactory(History, id);
        var cs = new NpgsqlConnectionStringBuilder(connectionString ?? ConnectionString) { ApplicationName = "fleet-" + id, MaxPoolSize = maxPoolSize }.ConnectionString;
        var host = TestHosts.Build(
            collection =>
            {
                services?.Invoke(collection);
                collection.AddWhatsAppTenants(o =>
                    {
                        o.HostId = id;
                        o.HealthCheckInterval = TimeSpan.FromSeconds(30);
                        coordinator?.Invoke(o);
                    })
                    .UseClientFactory(factory)
                    .UsePostgreSql(cs, o => o.Schema = Schema)
                    .UseFleet(o =>
                    {
                        FastTimings(o);
                        configure?.Invoke(o);
                    });
            },
            minimumLevel: LogLevel.Information);
        factory.Member = host.Services.GetRequiredService<FleetMember>();
        await host.StartAsync();
        var testHost = new FleetTestHost(id, host, factory);
        _hosts.Add(testHost);
        return testHost;
    }

    /// <summary>Starts tenants t0000…, spreading the API calls over the hosts.</summary>
    public async Task<List<TenantId>> StartTenantsAsync(int count, string prefix = "t")
    {
        var tenants = new List<TenantId>(count);
        for (int i = 0; i < count; i++)
        {
            var tenant = TenantId.Parse($"{prefix}{i:D4}");
            tenants.Add(tenant);
            await _hosts[i % _hosts.Count].Coordinator.StartAsync(tenant);
        }

        return tenants;
    }

    /// <summary>Waits until every tenant runs on exactly one host, and on one of <paramref name="hosts"/> when given.</summary>
    public Task<Dictionary<TenantId, List<string>>> WaitUntilAllRunOnceAsync(
        IReadOnlyCollection<TenantId> tenants, IReadOnlyCollection<string>? hosts = null, TimeSpan? timeout = null) =>
        Eventually.UntilAsync(
            () => Task.FromResult(History.Running()),
            running => tenants.All(t => running.TryGetValue(t, out var on) && on.Count == 1 && (hosts is null || hosts.Contains(on[0])))
                && running.Count == tenants.Count,
            $"all {tenants.Count} tenants run exactly once" + (hosts is null ? string.Empty : " on " + string.Join(',', hosts)),
            timeout);

    /// <summary>A tenant id that rendezvous placement puts on <paramref name="host"/> among <paramref name="hosts"/>.</summary>
    public static string PickTenantPlacedOn(string host, string[] hosts, string prefix = "x")
    {
        for (int i = 0; ; i++)
        {
            string id = prefix + i;
            var placement = Rendezvous.Assign([TenantId.Parse(id)], hosts.Select(h => new FleetHost(h, null)).ToList());
            if (placement[TenantId.Parse(id)] == host)
            {
                return id;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            host.Member.CoordinationPaused = false;
            host.Member.WatchdogPaused = false;
        }

        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }
    }
}
