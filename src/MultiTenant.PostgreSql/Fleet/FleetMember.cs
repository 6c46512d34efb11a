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

    // Reconcile requests (notifications, local API calls); at most one pending, extra requests coalesce.
    private readonly SemaphoreSlim _reconcileSignal = new(0, 1);
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
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _lifetime = lifetime;
        Sql = new FleetStatements(store.Schema);
        _deadlineTicks = (long)((_options.LeaseTtl - _options.SafetyMargin).TotalSeconds * _time.TimestampFrequency);
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
        _loops.Add(Task.Run(() => ListenLoopAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => RenewLoopAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => HeartbeatLoopAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => WatchdogLoopAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => ReconcileLoopAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => RelayLoopAsync(stop), CancellationToken.None));
        FleetLog.Joined(_logger, HostId, InstanceId);
        await NotifyAsync("join", cancellationToken).ConfigureAwait(false);
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

    /// <summary>Runs one reconcile now (tests; the loop runs it on notifications and every <see cref="FleetOptions.ReconcileInterval"/>).</summary>
    internal async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        var coordinator = _host;
        if (coordinator is null || _leaving || _superseded || CoordinationPaused || coordinator.IsStopping)
        {
            return;
        }

        var desired = new List<TenantId>();
        var generations = new Dictionary<TenantId, long>();
        var held = new HashSet<TenantId>();
        var hosts = new List<FleetHost>();
        await using (var batch = _coordination.CreateBatch())
        {
            batch.Timeout = _store.CommandTimeoutSeconds;
            batch.BatchCommands.Add(new NpgsqlBatchCommand(Sql.ReadDesired));
            var live = new NpgsqlBatchCommand(Sql.ReadLiveHosts);
            live.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _options.DeadAfter });
            batch.BatchCommands.Add(live);
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!TenantId.TryParse(reader.GetString(0), out var tenant))
                {
                    continue;
                }

                desired.Add(tenant);
                generations[tenant] = reader.GetInt64(1);
                if (reader.GetBoolean(3))
                {
                    held.Add(tenant);
                }
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                hosts.Add(new FleetHost(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetInt32(1)));
            }
        }

        hosts.Sort(static (a, b) => string.CompareOrdinal(a.HostId, b.HostId));
        var liveHosts = new HashSet<string>(StringComparer.Ordinal);
        foreach (var host in hosts)
        {
            liveHosts.Add(host.HostId);
        }

        var placement = Rendezvous.Assign(desired, hosts);
        string me = HostId;
        var toAcquire = new List<TenantId>();
        var toRelease = new List<TenantId>();
        foreach (var tenant in desired)
        {
            string? assigned = placement[tenant];
            if (_owned.TryGetValue(tenant, out var lease))
            {
                if (assigned is not null && assigned != me && liveHosts.Contains(assigned))
                {
                    toRelease.Add(tenant); // handoff: the host placement chose claims it once released
                }
                else
                {
                    ResumeIfNeeded(coordinator, tenant, lease, generations[tenant]);
                }
            }
            else if (assigned == me && !held.Contains(tenant))
            {
                toAcquire.Add(tenant);
            }
        }

        foreach (var tenant in _owned.Keys)
        {
            if (!generations.ContainsKey(tenant))
            {
                toRelease.Add(tenant); // stopped through the API (on any host)
            }
        }

        if (toRelease.Count > 0)
        {
            await StopAndReleaseAsync(coordinator, toRelease, cancellationToken).ConfigureAwait(false);
        }

        for (int i = 0; i < toAcquire.Count && !coordinator.IsStopping && !_leaving; i += _options.AcquireBatchSize)
        {
            var chunk = toAcquire.GetRange(i, Math.Min(_options.AcquireBatchSize, toAcquire.Count - i));
            await AcquireAsync(coordinator, chunk, generations, cancellationToken).ConfigureAwait(false);
        }
    }

    private void ResumeIfNeeded(ITenantHost coordinator, TenantId tenant, OwnedLease lease, long generation)
    {
        var local = coordinator.GetLocalStatus(tenant);
        bool restart = local is null || local.State == TenantState.Stopped
            || (local.State == TenantState.Error && generation > lease.Generation);
        if (!restart)
        {
            return;
        }

        lock (_ownedGate)
        {
            if (_owned.TryGetValue(tenant, out var current) && ReferenceEquals(current, lease) && _time.GetTimestamp() < lease.Deadline)
            {
                lease.Generation = generation;
                coordinator.Activate(tenant, lease.Epoch);
            }
        }
    }

    private async Task AcquireAsync(ITenantHost coordinator, List<TenantId> tenants, Dictionary<TenantId, long> generations, CancellationToken cancellationToken)
    {
        var ids = new string[tenants.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = tenants[i].Value;
        }

        Array.Sort(ids, StringComparer.Ordinal);
        var acquired = new List<(TenantId Tenant, long Epoch)>();
        await _leaseLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long start = _time.GetTimestamp();
            await using (var batch = _coordination.CreateBatch())
            {
                batch.Timeout = _store.CommandTimeoutSeconds;
                var ensure = new NpgsqlBatchCommand(Sql.EnsureLeaseRows);
                ensure.Parameters.Add(TextArray(ids));
                batch.BatchCommands.Add(ensure);
                var acquire = new NpgsqlBatchCommand(Sql.Acquire);
                acquire.Parameters.Add(TextArray(ids));
                acquire.Parameters.Add(new NpgsqlParameter<string> { TypedValue = HostId });
                acquire.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
                acquire.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _options.LeaseTtl });
                batch.BatchCommands.Add(acquire);
                await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (TenantId.TryParse(reader.GetString(0), out var tenant))
                    {
                        acquired.Add((tenant, reader.GetInt64(1)));
                    }
                }
            }

            long deadline = start + _deadlineTicks;
            lock (_ownedGate)
            {
                foreach (var (tenant, epoch) in acquired)
                {
                    var lease = new OwnedLease(epoch, generations.GetValueOrDefault(tenant), deadline);
                    _owned[tenant] = lease;
                    coordinator.Activate(tenant, lease.Epoch);
                }
            }
        }
        finally
        {
            _leaseLock.Release();
        }

        if (acquired.Count > 0)
        {
            FleetLog.LeasesAcquired(_logger, acquired.Count);
        }
    }

    /// <summary>Stops the tenants here, then (one round trip) writes their final statuses under their leases, releases and notifies.</summary>
    private async Task StopAndReleaseAsync(ITenantHost coordinator, List<TenantId> tenants, CancellationToken cancellationToken)
    {
        var stops = new Task<TenantStatus?>[tenants.Count];
        for (int i = 0; i < tenants.Count; i++)
        {
            stops[i] = coordinator.DeactivateAsync(tenants[i], TenantDeactivationReason.Released);
        }

        var finals = await Task.WhenAll(stops).ConfigureAwait(false);
        await _leaseLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var statuses = new List<(TenantStatus, long)>(tenants.Count);
            var ids = new List<string>(tenants.Count);
            for (int i = 0; i < tenants.Count; i++)
            {
                if (_owned.TryGetValue(tenants[i], out var lease))
                {
                    ids.Add(tenants[i].Value);
                    if (finals[i] is { } status)
                    {
                        statuses.Add((status, lease.Epoch));
                    }
                }
            }

            if (ids.Count == 0)
            {
                return;
            }

            ids.Sort(StringComparer.Ordinal);
            await using var batch = _coordination.CreateBatch();
            batch.Timeout = _store.CommandTimeoutSeconds;
            if (statuses.Count > 0)
            {
                batch.BatchCommands.Add(CreateStatusCommand(statuses));
            }

            var release = new NpgsqlBatchCommand(Sql.Release);
            release.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
            release.Parameters.Add(TextArray(ids.ToArray()));
            batch.BatchCommands.Add(release);
            batch.BatchCommands.Add(NotifyCommand("release"));
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            lock (_ownedGate)
            {
                foreach (var tenant in tenants)
                {
                    _owned.TryRemove(tenant, out _);
                }
            }

            FleetLog.LeasesReleased(_logger, ids.Count, "stopped or handed over");
        }
        finally
        {
            _leaseLock.Release();
        }
    }

    /// <summary>
    /// Forgets the leases of <paramref name="tenants"/> (they are no longer this host's) and stops the tenants here in the background:
    /// the caller (the renew loop, the watchdog) never waits for a tenant's drain, so one slow handler cannot delay the renewal of the
    /// other leases. Each stop is bounded (<see cref="TenantCoordinatorOptions.OwnershipLostDrainTimeout"/>, the disconnect by the
    /// connect timeout); the tenant reports the ownership-lost error at once and is never activated again under the lost lease.
    /// </summary>
    private void Lose(IReadOnlyList<TenantId> tenants, string reason)
    {
        var lost = new List<TenantId>(tenants.Count);
        lock (_ownedGate)
        {
            foreach (var tenant in tenants)
            {
                if (_owned.TryRemove(tenant, out _))
                {
                    lost.Add(tenant);
                }
            }
        }

        if (lost.Count == 0 || _host is not { } host)
        {
            return;
        }

        foreach (var tenant in lost)
        {
            FleetLog.LeaseLost(_logger, tenant.Value, reason);
            var stop = host.DeactivateAsync(tenant, TenantDeactivationReason.OwnershipLost);
            if (!stop.IsCompleted)
            {
                _losing[stop] = 0;
                _ = stop.ContinueWith(static (t, s) => ((ConcurrentDictionary<Task, byte>)s!).TryRemove(t, out _), _losing, CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    private async Task RegisterAsync(CancellationToken cancellationToken)
    {
        // A previous incarnation with this host id (killed, restarted at once) is taken over once it counts as dead.
        var giveUp = _options.DeadAfter + _options.HeartbeatInterval * 2 + TimeSpan.FromSeconds(1);
        long start = _time.GetTimestamp();
        bool warned = false;
        while (true)
        {
            await using (var command = CreateCoordinationCommand(Sql.Register))
            {
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = HostId });
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
                command.Parameters.Add(CapacityParameter());
                command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _options.DeadAfter });
                if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null)
                {
                    return;
                }
            }

            if (_time.GetElapsedTime(start) > giveUp)
            {
                throw new PostgreSqlStoreStartupException(
                    $"Another live host of the fleet uses the host id '{HostId}'. Give every host its own id (WhatsAppTenants:HostId, HOST_ID in the sample).");
            }

            if (!warned)
            {
                FleetLog.HostIdBusy(_logger, HostId);
                warned = true;
            }

            await Task.Delay(_options.HeartbeatInterval, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private void BeginLeaving()
    {
        if (_leaving)
        {
            return;
        }

        _leaving = true;
        _leaveMembership = LeaveMembershipAsync();
    }

    /// <summary>Deletes this host from the live hosts (so nobody places tenants on it any more) and notifies; its leases stay held.</summary>
    private async Task LeaveMembershipAsync()
    {
        try
        {
            await using var batch = _coordination.CreateBatch();
            batch.Timeout = _store.CommandTimeoutSeconds;
            var leave = new NpgsqlBatchCommand(Sql.Leave);
            leave.Parameters.Add(new NpgsqlParameter<string> { TypedValue = HostId });
            leave.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
            batch.BatchCommands.Add(leave);
            batch.BatchCommands.Add(NotifyCommand("leave"));
            await batch.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            FleetLog.CoordinationFailed(_logger, "leave", ex);
        }
    }

    private async Task RenewLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            bool ok = true;
            if (!CoordinationPaused && !_superseded)
            {
                ok = await RenewAsync(stop).ConfigureAwait(false);
            }

            // After a failure retry sooner: the deadline is measured from the last successful renewal.
            var delay = ok ? _options.RenewInterval : TimeSpan.FromTicks(Math.Max(_options.RenewInterval.Ticks / 3, TimeSpan.FromMilliseconds(100).Ticks));
            if (!await DelayAsync(delay, stop).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>Renews every lease of this instance in one statement; returns whether it succeeded.</summary>
    internal async Task<bool> RenewAsync(CancellationToken stop)
    {
        var returned = new Dictionary<TenantId, long>();

        // The deadline bounds the whole attempt: the wait for the lease lock, for a connection, and the statement. A renewal that takes
        // longer than the safety margin is useless (the watchdog measures from its start), so it gives up then.
        long start = _time.GetTimestamp();
        using var deadline = new CancellationTokenSource(_options.SafetyMargin, _time);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop, deadline.Token);
        var token = attempt.Token;
        try
        {
            await _leaseLock.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            FleetLog.RenewTimedOut(_logger, _owned.Count, _options.SafetyMargin);
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        var orphans = new List<string>();
        var lost = new List<TenantId>();
        try
        {
            await using var connection = await _coordination.OpenConnectionAsync(token).ConfigureAwait(false);
            await using (var command = new NpgsqlCommand(Sql.Renew, connection))
            {
                command.CommandTimeout = Math.Max(1, (int)Math.Ceiling(_options.SafetyMargin.TotalSeconds));
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
                command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _options.LeaseTtl });
                await using var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
                while (await reader.ReadAsync(token).ConfigureAwait(false))
                {
                    if (TenantId.TryParse(reader.GetString(0), out var tenant))
                    {
                        returned[tenant] = reader.GetInt64(1);
                    }
                }
            }

            long renewedUntil = start + _deadlineTicks;
            lock (_ownedGate)
            {
                foreach (var (tenant, lease) in _owned)
                {
                    if (returned.Remove(tenant, out long epoch) && epoch == lease.Epoch)
                    {
                        lease.Deadline = Math.Max(lease.Deadline, renewedUntil);
                    }
                    else
                    {
                        lost.Add(tenant);
                    }
                }
            }

            // Leases the database says are ours but we do not run (an acquisition whose answer was lost): give them back.
            foreach (var tenant in returned.Keys)
            {
                orphans.Add(tenant.Value);
            }

            if (orphans.Count > 0)
            {
                orphans.Sort(StringComparer.Ordinal);
                await using var release = new NpgsqlCommand(Sql.Release, connection);
                release.CommandTimeout = _store.CommandTimeoutSeconds;
                release.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
                release.Parameters.Add(TextArray(orphans.ToArray()));
                await release.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException || (ex is OperationCanceledException && !stop.IsCancellationRequested))
        {
            FleetLog.RenewFailed(_logger, _owned.Count, ex);
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            _leaseLock.Release();
        }

        if (lost.Count > 0)
        {
            Lose(lost, "not renewed: expired or taken over");
            Poke();
        }

        Interlocked.Increment(ref _renewals);
        return true;
    }

    private async Task HeartbeatLoopAsync(CancellationToken stop)
    {
        while (await DelayAsync(_options.HeartbeatInterval, stop).ConfigureAwait(false))
        {
            if (CoordinationPaused || _leaving || _superseded)
            {
                continue;
            }

            try
            {
                await using var command = CreateCoordinationCommand(Sql.Heartbeat);
                command.CommandTimeout = Math.Max(1, (int)Math.Ceiling(_options.HeartbeatInterval.TotalSeconds * 2));
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = HostId });
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
                command.Parameters.Add(CapacityParameter());
                if (await command.ExecuteScalarAsync(stop).ConfigureAwait(false) is null && !_leaving)
                {
                    // Another instance registered with this host id after we were counted dead: it is the host now.
                    _superseded = true;
                    FleetLog.Superseded(_logger, HostId);
                    Lose(_owned.Keys.ToList(), "superseded by another instance");
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException || (ex is OperationCanceledException && !stop.IsCancellationRequested))
            {
                FleetLog.CoordinationFailed(_logger, "heartbeat", ex);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task WatchdogLoopAsync(CancellationToken stop)
    {
        var interval = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMilliseconds(250).Ticks, _options.SafetyMargin.Ticks / 4));
        var expired = new List<TenantId>();
        while (await DelayAsync(interval, stop).ConfigureAwait(false))
        {
            if (WatchdogPaused)
            {
                continue;
            }

            long now = _time.GetTimestamp();
            expired.Clear();
            foreach (var (tenant, lease) in _owned)
            {
                if (now >= lease.Deadline)
                {
                    expired.Add(tenant);
                }
            }

            if (expired.Count > 0)
            {
                Lose(expired.ToArray(), "no renewal before the safety deadline");
            }
        }
    }

    private async Task ReconcileLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            using (var tick = CancellationTokenSource.CreateLinkedTokenSource(stop))
            {
                tick.CancelAfter(_options.ReconcileInterval);
                try
                {
                    await _reconcileSignal.WaitAsync(tick.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                {
                    // The periodic fallback.
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            try
            {
                await ReconcileAsync(stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException || (ex is OperationCanceledException && !stop.IsCancellationRequested))
            {
                FleetLog.CoordinationFailed(_logger, "reconcile", ex);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One dedicated connection per host LISTENs to the fleet's channel; every notification triggers a reconcile.</summary>
    private async Task ListenLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _coordination.OpenConnectionAsync(stop).ConfigureAwait(false);
                connection.Notification += (_, e) =>
                {
                    if (!OnRelayNotification(e.Payload))
                    {
                        Poke();
                    }
                };
                await using (var listen = new NpgsqlCommand($"LISTEN \"{Sql.Channel}\"", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                }

                Poke(); // notifications sent while we were not listening are lost: reconcile once
                SignalRelay(); // and answer the sends relayed meanwhile
                while (!stop.IsCancellationRequested)
                {
                    // Wake up now and then to find a dead connection (WaitAsync alone may wait forever on a silently dropped socket).
                    if (!await connection.WaitAsync(TimeSpan.FromSeconds(15), stop).ConfigureAwait(false))
                    {
                        await using var ping = new NpgsqlCommand("SELECT 1", connection);
                        ping.CommandTimeout = 5;
                        await ping.ExecuteScalarAsync(stop).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.IO.IOException or OperationCanceledException)
            {
                FleetLog.CoordinationFailed(_logger, "notification listener", ex);
                if (!await DelayAsync(TimeSpan.FromSeconds(1), stop).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
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

    private async Task<bool> DelayAsync(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, _time, stop).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void Poke()
    {
        if (_reconcileSignal.CurrentCount == 0)
        {
            try
            {
                _reconcileSignal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already requested.
            }
        }
    }

    private async Task NotifyAsync(string payload, CancellationToken cancellationToken)
    {
        await using var batch = _coordination.CreateBatch();
        batch.BatchCommands.Add(NotifyCommand(payload));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private NpgsqlBatchCommand NotifyCommand(string payload)
    {
        var notify = new NpgsqlBatchCommand(Sql.Notify);
        notify.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Sql.Channel });
        notify.Parameters.Add(new NpgsqlParameter<string> { TypedValue = payload });
        return notify;
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

        int count = latest.Count;
        var ids = new string[count];
        var states = new string[count];
        var startedAt = new DateTimeOffset?[count];
        var updatedAt = new DateTimeOffset[count];
        var errors = new string?[count];
        var hosts = new string?[count];
        var epochs = new long[count];
        int i = 0;
        foreach (var (status, epoch) in latest.Values)
        {
            ids[i] = status.BusinessId.Value;
            states[i] = status.State.ToWireName();
            startedAt[i] = status.StartedAt?.ToUniversalTime();
            updatedAt[i] = status.UpdatedAt.ToUniversalTime();
            errors[i] = status.Error;
            hosts[i] = status.Host;
            epochs[i] = epoch;
            i++;
        }

        var command = new NpgsqlBatchCommand(Sql.UpsertStatusesFenced);
        command.Parameters.Add(TextArray(ids));
        command.Parameters.Add(TextArray(states));
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?[]> { TypedValue = startedAt, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = updatedAt, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = errors, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = hosts, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = epochs, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
        return command;
    }

    private static NpgsqlParameter<string[]> TextArray(string[] values) =>
        new() { TypedValue = values, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };

    /// <summary>A lease this host holds: its epoch, the start generation it runs, and its local monotonic stop deadline.</summary>
    private sealed class OwnedLease(long epoch, long generation, long deadline)
    {
        private long _deadline = deadline;

        public long Epoch { get; } = epoch;

        public long Generation { get; set; } = generation;

        public long Deadline
        {
            get => Volatile.Read(ref _deadline);
            set => Volatile.Write(ref _deadline, value);
        }
    }
}
