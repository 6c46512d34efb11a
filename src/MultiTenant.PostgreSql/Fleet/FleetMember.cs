using MultiTenant.Clients;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Hosting;
using Npgsql;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// This host's membership of the fleet, the <see cref="ITenantPlacement"/> of every host on PostgreSQL. It wires the fleet's parts, each
/// with one job: the <see cref="FleetChannel"/> (LISTEN/NOTIFY), the <see cref="FleetMembership"/> (registration, heartbeats, leaving),
/// the <see cref="LeaseKeeper"/> (leases, renewals, watchdog), the <see cref="FleetReconciler"/> (placement, claims, handoffs) and the
/// <see cref="SendRelay"/> (sends between hosts); it writes start and stop requests, routes notifications to the part they concern, and
/// stops, in the background, the tenants whose leases were lost.
/// </summary>
internal sealed class FleetMember : ITenantPlacement, ILeaseFence, IAsyncDisposable
{
    private readonly PostgreSqlTenantStore _store;

    // Coordination traffic (renewals, heartbeats, acquisitions, releases, reconciles, LISTEN) has a pool of its own, so that API load
    // (relayed sends, health probes, status reads) filling the store's pool can never make a renewal wait for a connection.
    private readonly NpgsqlDataSource _coordination;
    private readonly FleetOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IHostApplicationLifetime? _lifetime;
    private readonly LeaseKeeper _leases;
    private readonly FleetMembership _membership;
    private readonly FleetReconciler _reconciler;
    private readonly SendRelay _relay;

    // Stops of tenants whose lease was lost, still winding down (awaited when the member stops, never by the loops).
    private readonly LostTenantStops _losing = new();
    private readonly FleetChannel _channel;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private ITenantHost? _host;
    private CancellationTokenRegistration _stoppingRegistration;
    private int _stopped;

    public FleetMember(
        PostgreSqlTenantStore store,
        NpgsqlDataSource coordination,
        FleetOptions options,
        TimeProvider? timeProvider = null,
        ILogger<FleetMember>? logger = null,
        IHostApplicationLifetime? lifetime = null)
    {
        _store = store;
        _coordination = coordination;
        FleetOptionsValidator.ThrowIfInvalid(options);
        _options = options.Clone();
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _lifetime = lifetime;
        Sql = new FleetStatements(store.Schema);
        _channel = new FleetChannel(coordination, Sql, _time, _logger, OnNotification, OnListening);
        _leases = new LeaseKeeper(
            coordination, Sql, _channel, _options, _time, _logger, InstanceId, store.CommandTimeoutSeconds,
            renewalsPaused: () => CoordinationPaused || _membership!.Superseded, watchdogPaused: () => WatchdogPaused, onLost: StopLost);
        _membership = new FleetMembership(
            coordination, Sql, _channel, _options, _time, _logger, InstanceId, store.CommandTimeoutSeconds,
            heartbeatsPaused: () => CoordinationPaused, onSuperseded: () => _leases.Lose(_leases.Tenants.ToList(), "superseded by another instance"));
        _reconciler = new FleetReconciler(
            coordination, Sql, _options, _time, _logger, _leases, _membership, store.CommandTimeoutSeconds, paused: () => CoordinationPaused);
        _relay = new SendRelay(store, Sql, _channel, _options, _time, _logger, _leases, superseded: () => _membership.Superseded);
    }

    /// <summary>This host instance's identity in the leases table (a restarted host is a new instance).</summary>
    public Guid InstanceId { get; } = Guid.NewGuid();

    public string HostId => _host?.HostId ?? string.Empty;

    public FleetStatements Sql { get; }

    public FleetOptions Options => _options;

    /// <summary>How many leases this host holds.</summary>
    public int OwnedCount => _leases.Count;

    /// <summary>Test hook: renewals, heartbeats and reconciles are skipped (a host whose coordination stalls; its watchdog still runs).</summary>
    internal bool CoordinationPaused { get; set; }

    /// <summary>Test hook: the watchdog is skipped too (a host paused as a whole, whose clients keep their in-flight work).</summary>
    internal bool WatchdogPaused { get; set; }

    /// <summary>How many renewals succeeded so far (tests wait for the next one).</summary>
    internal long Renewals => _leases.Renewals;

    /// <summary>The epoch of this host's lease of <paramref name="tenant"/>, or <see langword="null"/> when it holds none.</summary>
    public long? GetEpoch(TenantId tenant) => _leases.GetEpoch(tenant);

    /// <inheritdoc />
    public bool IsPlacedHere(TenantId tenant) => _leases.Holds(tenant);

    public async Task StartAsync(ITenantHost host, CancellationToken cancellationToken)
    {
        _host = host;
        await _membership.RegisterAsync(host.HostId, cancellationToken).ConfigureAwait(false);
        if (_lifetime is not null)
        {
            _stoppingRegistration = _lifetime.ApplicationStopping.Register(static state => ((FleetMembership)state!).BeginLeaving(), _membership);
        }

        var stop = _stop.Token;
        _loops.Add(Task.Run(() => _channel.RunAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => _leases.RunRenewalsAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => _membership.RunHeartbeatsAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => _leases.RunWatchdogAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => _reconciler.RunAsync(host, stop), CancellationToken.None));
        _loops.Add(Task.Run(() => _relay.RunAsync(host, stop), CancellationToken.None));
        FleetLog.Joined(_logger, HostId, InstanceId);
        await _channel.NotifyAsync("join", cancellationToken).ConfigureAwait(false);
        Poke();
    }

    /// <inheritdoc />
    public Task<SendMessageResult> RouteSendAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken) =>
        _relay.RouteSendAsync(_host, tenant, message, cancellationToken);

    /// <summary>Runs one reconcile now (tests; the reconciler's loop runs it on notifications and every interval).</summary>
    internal Task ReconcileAsync(CancellationToken cancellationToken) =>
        _host is { } host ? _reconciler.ReconcileAsync(host, cancellationToken) : Task.CompletedTask;

    public async ValueTask<TenantStatus> RequestStartAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        await DesiredStateRequests.RecordStartAsync(_store, Sql, tenant, _channel.Notify("start"), cancellationToken).ConfigureAwait(false);

        Poke();
        var now = _time.GetUtcNow();
        return new TenantStatus(tenant, TenantState.Starting, now, now, null, null);
    }

    public async ValueTask<TenantStatus> RequestStopAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        var status = await DesiredStateRequests.RecordStopAsync(_store, Sql, tenant, _channel.Notify("stop"), _time, cancellationToken)
            .ConfigureAwait(false);

        // The owner (maybe this host) stops it on its next reconcile, which the notification triggers at once.
        Poke();
        return status;
    }

    /// <summary>
    /// Leaves the fleet after the coordinator stopped this host's tenants and flushed their statuses: writes their final statuses, releases
    /// every lease and notifies, in one round trip, so the other hosts claim the tenants at once.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _membership.LeaveAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var host = _host;
        int released = await _leases.ReleaseAllAsync(tenant => host?.GetLocalStatus(tenant), cancellationToken).ConfigureAwait(false);
        FleetLog.Left(_logger, HostId, released);
        await StopLoopsAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopLoopsAsync().ConfigureAwait(false);
        _stoppingRegistration.Dispose();
    }

    /// <summary>A write under <paramref name="epoch"/> was refused: if that is still the lease this host believes it holds, it is lost.</summary>
    public void OnWriteRefused(TenantId tenant, long epoch)
    {
        FleetLog.WriteRefused(_logger, tenant.Value, epoch);
        if (_leases.GetEpoch(tenant) == epoch)
        {
            _leases.Lose([tenant], "a write was refused");
        }
    }

    /// <summary>Writes statuses fenced by their lease epochs (statuses whose lease is gone are dropped by the database).</summary>
    public Task WriteStatusesAsync(IReadOnlyList<(TenantStatus Status, long Epoch)> statuses, CancellationToken cancellationToken) =>
        _leases.WriteStatusesAsync(_store, statuses, cancellationToken);

    private async Task StopLoopsAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _relay.DrainAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _losing.WhenAllAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private void Poke() => _reconciler.Wake();

    /// <summary>Relay notifications go to the relay; every other one (start, stop, join, leave, release) triggers a reconcile.</summary>
    private void OnNotification(string payload)
    {
        if (!_relay.OnNotification(payload))
        {
            Poke();
        }
    }

    /// <summary>Listening (again): notifications sent while we were not listening are lost, so reconcile once and answer pending relays.</summary>
    private void OnListening()
    {
        Poke();
        _relay.Wake();
    }

    /// <summary>
    /// Stops the tenants whose leases were lost in the background (<see cref="LostTenantStops"/>); they are never activated again under
    /// the lost lease. A reconcile follows (claims may be due).
    /// </summary>
    private void StopLost(IReadOnlyList<TenantId> tenants)
    {
        if (_host is not { } host)
        {
            return;
        }

        _losing.Stop(host, tenants);
        Poke();
    }
}
