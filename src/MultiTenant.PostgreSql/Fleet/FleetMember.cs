using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Hosting;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// This host's membership of the fleet: heartbeats, lease renewal (one statement for all leases), a watchdog that stops the clients
/// whose leases could not be renewed before they could expire, placement (rendezvous hashing over the live hosts), claiming of free or
/// expired leases, graceful handoff, and a LISTEN connection that makes starts, stops, joins and leaves take effect at once.
/// </summary>
/// <remarks>
/// Safety rests on two rules. (1) A tenant runs here only while <see cref="_owned"/> holds its lease: <see cref="_ownedGate"/> orders
/// activation (which checks the entry) against removal (which comes before deactivation). (2) Every entry has a local monotonic deadline
/// (start of the acquisition or of the last renewal that returned it + TTL − safety margin); the watchdog removes and stops an entry whose
/// deadline passed, before the database could judge its lease expired and let another host acquire it. Writes carry the lease epoch, so
/// a host that was paused past both is refused by the database.
/// </remarks>
internal sealed partial class FleetMember : ITenantPlacement, IAsyncDisposable
{
    private readonly PostgreSqlTenantStore _store;

    // Coordination traffic (renewals, heartbeats, acquisitions, releases, reconciles, LISTEN) has a pool of its own, so that API load
    // (relayed sends, health probes, status reads) filling the store's pool can never make a renewal wait for a connection.
    private readonly NpgsqlDataSource _coordination;
    private readonly FleetOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IHostApplicationLifetime? _lifetime;
    private readonly ConcurrentDictionary<TenantId, OwnedLease> _owned = new();
    private readonly Lock _ownedGate = new();

    // Stops of tenants whose lease was lost, still winding down (awaited when the member stops, never by the loops).
    private readonly ConcurrentDictionary<Task, byte> _losing = new();

    // Serialises this host's lease-changing statements (acquire, renew, release), so they never lock its rows in different orders.
    private readonly SemaphoreSlim _leaseLock = new(1, 1);

    // Reconcile requests (notifications, local API calls).
    private readonly WakeSignal _reconcileWake;
    private readonly FleetChannel _channel;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly long _deadlineTicks;
    private ITenantHost? _host;
    private CancellationTokenRegistration _stoppingRegistration;
    private Task _leaveMembership = Task.CompletedTask;
    private volatile bool _leaving;
    private volatile bool _superseded;
    private int _stopped;
    private long _renewals;

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
        _reconcileWake = new WakeSignal(_time);
        _relayWake = new WakeSignal(_time);
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _lifetime = lifetime;
        Sql = new FleetStatements(store.Schema);
        _channel = new FleetChannel(coordination, Sql, _time, _logger, OnNotification, OnListening);
        _deadlineTicks = (long)((_options.LeaseTtl - _options.SafetyMargin).TotalSeconds * _time.TimestampFrequency);
        _nextReconcile = _options.ReconcileInterval;
    }

    /// <summary>This host instance's identity in the leases table (a restarted host is a new instance).</summary>
    public Guid InstanceId { get; } = Guid.NewGuid();

    public string HostId => _host?.HostId ?? string.Empty;

    public FleetStatements Sql { get; }

    public FleetOptions Options => _options;

    /// <summary>How many leases this host holds.</summary>
    public int OwnedCount => _owned.Count;

    /// <summary>Test hook: renewals, heartbeats and reconciles are skipped (a host whose coordination stalls; its watchdog still runs).</summary>
    internal bool CoordinationPaused { get; set; }

    /// <summary>Test hook: the watchdog is skipped too (a host paused as a whole, whose clients keep their in-flight work).</summary>
    internal bool WatchdogPaused { get; set; }

    /// <summary>How many renewals succeeded so far (tests wait for the next one).</summary>
    internal long Renewals => Interlocked.Read(ref _renewals);

    /// <summary>The epoch of this host's lease of <paramref name="tenant"/>, or <see langword="null"/> when it holds none.</summary>
    public long? GetEpoch(TenantId tenant) => _owned.TryGetValue(tenant, out var lease) ? lease.Epoch : null;

    /// <inheritdoc />
    public bool IsPlacedHere(TenantId tenant) => _owned.ContainsKey(tenant);

    public async Task StartAsync(ITenantHost host, CancellationToken cancellationToken)
    {
        _host = host;
        await RegisterAsync(cancellationToken).ConfigureAwait(false);
        if (_lifetime is not null)
        {
            _stoppingRegistration = _lifetime.ApplicationStopping.Register(static state => ((FleetMember)state!).BeginLeaving(), this);
        }

        var stop = _stop.Token;
        _loops.Add(Task.Run(() => _channel.RunAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => RenewLoopAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => HeartbeatLoopAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => WatchdogLoopAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => ReconcileLoopAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => RelayLoopAsync(stop), CancellationToken.None));
        FleetLog.Joined(_logger, HostId, InstanceId);
        await _channel.NotifyAsync("join", cancellationToken).ConfigureAwait(false);
        Poke();
    }

    public async ValueTask<TenantStatus> RequestStartAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        await using var batch = _store.DataSource.CreateBatch();
        batch.Timeout = _store.CommandTimeoutSeconds;
        var start = new NpgsqlBatchCommand(Sql.RequestStart);
        start.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        batch.BatchCommands.Add(start);
        batch.BatchCommands.Add(NotifyCommand("start"));
        bool accepted;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            accepted = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!accepted)
        {
            await using var owner = _store.CreateCommand(Sql.CurrentOwner);
            owner.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
            string? host = await owner.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
            throw new TenantAlreadyRunningException(tenant, host);
        }

        Poke();
        var now = _time.GetUtcNow();
        return new TenantStatus(tenant, TenantState.Starting, now, now, null, null);
    }

    public async ValueTask<TenantStatus> RequestStopAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        await using var batch = _store.DataSource.CreateBatch();
        batch.Timeout = _store.CommandTimeoutSeconds;
        var stop = new NpgsqlBatchCommand(Sql.RequestStop);
        stop.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        batch.BatchCommands.Add(stop);
        var status = new NpgsqlBatchCommand(Sql.StatusOnStop);
        status.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        batch.BatchCommands.Add(status);
        batch.BatchCommands.Add(NotifyCommand("stop"));
        bool known;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            known = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!known)
        {
            throw new TenantNotFoundException(tenant);
        }

        // The owner (maybe this host) stops it on its next reconcile, which the notification triggers at once.
        Poke();
        var stored = await _store.GetAsync(tenant, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        return stored is null
            ? new TenantStatus(tenant, TenantState.Stopped, null, now, null, null)
            : stored with { State = TenantState.Stopped, UpdatedAt = now, Error = null };
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

        BeginLeaving();
        await _leaveMembership.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        int released = 0;
        await _leaseLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var finals = new List<(TenantStatus, long)>();
            foreach (var (tenant, lease) in _owned)
            {
                if (_host?.GetLocalStatus(tenant) is { } status)
                {
                    finals.Add((status, lease.Epoch));
                }
            }

            await using var batch = _coordination.CreateBatch();
            batch.Timeout = _store.CommandTimeoutSeconds;
            if (finals.Count > 0)
            {
                batch.BatchCommands.Add(CreateStatusCommand(finals));
            }

            var release = new NpgsqlBatchCommand(Sql.ReleaseAll);
            release.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
            batch.BatchCommands.Add(release);
            batch.BatchCommands.Add(NotifyCommand("release"));
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            released = release.RecordsAffected;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            // The leases expire by themselves; the other hosts claim the tenants then.
            FleetLog.CoordinationFailed(_logger, "release on shutdown", ex);
        }
        finally
        {
            lock (_ownedGate)
            {
                _owned.Clear();
            }

            _leaseLock.Release();
        }

        FleetLog.Left(_logger, HostId, released);
        await StopLoopsAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopLoopsAsync().ConfigureAwait(false);
        _stoppingRegistration.Dispose();
    }

    /// <summary>A write under <paramref name="epoch"/> was refused: if that is still the lease this host believes it holds, it is lost.</summary>
    internal void OnWriteRefused(TenantId tenant, long epoch)
    {
        FleetLog.WriteRefused(_logger, tenant.Value, epoch);
        if (_owned.TryGetValue(tenant, out var lease) && lease.Epoch == epoch)
        {
            Lose([tenant], "a write was refused");
        }
    }

    /// <summary>Writes statuses fenced by their lease epochs (statuses whose lease is gone are dropped by the database).</summary>
    internal async Task WriteStatusesAsync(IReadOnlyList<(TenantStatus Status, long Epoch)> statuses, CancellationToken cancellationToken)
    {
        await using var own = _store.DataSource.CreateBatch();
        own.Timeout = _store.CommandTimeoutSeconds;
        own.BatchCommands.Add(CreateStatusCommand(statuses));
        await own.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task StopLoopsAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Task.WhenAll(_relayWork.Values).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Task.WhenAll(_losing.Keys).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private Task<bool> DelayAsync(TimeSpan delay, CancellationToken stop) => FleetLoop.DelayAsync(delay, _time, stop);

    private void Poke() => _reconcileWake.Wake();

    private NpgsqlBatchCommand NotifyCommand(string payload) => _channel.Notify(payload);

    /// <summary>Relay notifications go to the relay; every other one (start, stop, join, leave, release) triggers a reconcile.</summary>
    private void OnNotification(string payload)
    {
        if (!OnRelayNotification(payload))
        {
            Poke();
        }
    }

    /// <summary>Listening (again): notifications sent while we were not listening are lost, so reconcile once and answer pending relays.</summary>
    private void OnListening()
    {
        Poke();
        SignalRelay();
    }

    private NpgsqlCommand CreateCoordinationCommand(string sql)
    {
        var command = _coordination.CreateCommand(sql);
        command.CommandTimeout = _store.CommandTimeoutSeconds;
        return command;
    }

    private NpgsqlParameter CapacityParameter() =>
        new() { Value = _options.Capacity is { } c ? c : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer };

    private NpgsqlBatchCommand CreateStatusCommand(IReadOnlyList<(TenantStatus Status, long Epoch)> statuses)
    {
        // One row per tenant (ON CONFLICT cannot touch a row twice): the last one wins.
        var latest = new Dictionary<TenantId, (TenantStatus Status, long Epoch)>(statuses.Count);
        foreach (var entry in statuses)
        {
            latest[entry.Status.BusinessId] = entry;
        }

        var rows = new List<TenantStatus>(latest.Count);
        var epochs = new long[latest.Count];
        foreach (var (status, epoch) in latest.Values)
        {
            epochs[rows.Count] = epoch;
            rows.Add(status);
        }

        var command = new NpgsqlBatchCommand(Sql.UpsertStatusesFenced);
        StatusRows.AddArrays(command.Parameters, rows);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = epochs, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
        return command;
    }

    private static NpgsqlParameter<string[]> TextArray(string[] values) =>
        new() { TypedValue = values, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };
}
