using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Hosting;
using Npgsql;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// The fleet's leases and membership for a placement engine of its own (for example MultiTenant.Orleans): the engine decides where a
/// tenant runs, and this keeps the safety of the PostgreSQL fleet. A tenant runs here only while this host instance holds its lease
/// (acquired with a fencing epoch that every status and client-state write carries, renewed for all tenants in one statement every
/// <see cref="FleetOptions.RenewInterval"/>, given up by a watchdog before the database could judge it expired), and the host heartbeats
/// in the fleet's hosts table, so the fleet's status view, health and dashboard work as they do with the fleet's own placement.
/// Registered by <c>UseFleetLeases()</c>; every member is thread-safe.
/// </summary>
/// <remarks>
/// Losing a lease (expired, taken over, a write refused) stops the tenant here in the background with
/// <see cref="TenantDeactivationReason.OwnershipLost"/> and then calls the <c>onLost</c> callback given to <see cref="StartAsync"/>.
/// </remarks>
public sealed class FleetLeases : ILeaseFence, IAsyncDisposable
{
    private readonly PostgreSqlTenantStore _store;
    private readonly FleetOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LeaseKeeper _leases;
    private readonly FleetMembership _membership;
    private readonly LostTenantStops _losing = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly Lock _pendingGate = new();
    private readonly List<(TenantId Tenant, TaskCompletionSource<long?> Done)> _pending = [];
    private bool _flushing;
    private ITenantHost? _host;
    private Action<IReadOnlyList<TenantId>>? _onLost;
    private int _stopped;

    internal FleetLeases(PostgreSqlTenantStore store, NpgsqlDataSource coordination, FleetOptions options, TimeProvider? time, ILogger? logger)
    {
        _store = store;
        CoordinationDataSource = coordination;
        FleetOptionsValidator.ThrowIfInvalid(options);
        _options = options.Clone();
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        Sql = new FleetStatements(store.Schema);

        // Nobody listens here (the engine routes its own calls): the channel only adds the fleet's notifications to releases and leaves,
        // for hosts of the fleet's own placement that share the database.
        var channel = new FleetChannel(coordination, Sql, _time, _logger, static _ => { }, static () => { });
        _leases = new LeaseKeeper(
            coordination, Sql, channel, _options, _time, _logger, InstanceId, store.CommandTimeoutSeconds,
            renewalsPaused: () => _membership!.Superseded, watchdogPaused: static () => false, onLost: StopLost);
        _membership = new FleetMembership(
            coordination, Sql, channel, _options, _time, _logger, InstanceId, store.CommandTimeoutSeconds,
            heartbeatsPaused: static () => false, onSuperseded: () => _leases.Lose(_leases.Tenants.ToList(), "superseded by another instance"));
    }

    /// <summary>This host instance's identity in the leases table (a restarted host is a new instance).</summary>
    public Guid InstanceId { get; } = Guid.NewGuid();

    /// <summary>
    /// The fleet's coordination data source (a pool of its own unless the host shares the store's, see
    /// <see cref="FleetOptions.CoordinationPoolSize"/>), for an engine's own coordination statements, such as MultiTenant.Orleans'
    /// membership table: API load on the store's pool cannot starve them.
    /// </summary>
    public NpgsqlDataSource CoordinationDataSource { get; }

    /// <summary>The store's schema (<see cref="PostgreSqlStoreOptions.Schema"/>), where the fleet's tables are.</summary>
    public string Schema => _store.Schema;

    /// <summary>How many leases this host instance holds.</summary>
    public int Count => _leases.Count;

    /// <summary>The fleet options in force (bound from <c>WhatsAppTenants:Fleet</c>; validated).</summary>
    public FleetOptions Options => _options;

    FleetStatements ILeaseFence.Sql => Sql;

    internal FleetStatements Sql { get; }

    /// <summary>
    /// Joins the fleet's hosts as <paramref name="host"/> (waiting while a live previous incarnation holds its host id) and starts the
    /// renewals, heartbeats and the watchdog. Call once, from <see cref="ITenantPlacement.StartAsync"/>.
    /// </summary>
    /// <param name="host">This host; tenants are activated on it under their leases and stopped on it when a lease is lost.</param>
    /// <param name="onLost">Called (on a background thread, must not block) with the tenants whose leases were lost, after their stop began.</param>
    /// <param name="cancellationToken">Cancels the registration.</param>
    /// <exception cref="PostgreSqlStoreStartupException">Another live instance uses the host id.</exception>
    public async Task StartAsync(ITenantHost host, Action<IReadOnlyList<TenantId>>? onLost, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = host;
        _onLost = onLost;
        await _membership.RegisterAsync(host.HostId, cancellationToken).ConfigureAwait(false);
        var stop = _stop.Token;
        _loops.Add(Task.Run(() => _leases.RunRenewalsAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => _membership.RunHeartbeatsAsync(stop), CancellationToken.None));
        _loops.Add(Task.Run(() => _leases.RunWatchdogAsync(stop), CancellationToken.None));
        FleetLog.Joined(_logger, host.HostId, InstanceId);
    }

    /// <summary>
    /// Acquires the lease of <paramref name="tenant"/> when it is desired-running and its lease is free or expired, and activates the
    /// tenant on this host under it; returns the lease's epoch, or <see langword="null"/> when another live instance holds it, the tenant
    /// is not desired-running, or this host is leaving. A lease already held here is kept (its epoch is returned). Concurrent calls are
    /// acquired together: the requests that arrive while one acquisition is under way go in the next one, in a single round trip of up to
    /// <see cref="FleetOptions.AcquireBatchSize"/> tenants, so a thousand activations at once cost a few statements, not a thousand.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="StartAsync"/> was not called.</exception>
    public Task<long?> TryAcquireAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        if (_host is null)
        {
            throw new InvalidOperationException("FleetLeases.StartAsync was not called.");
        }

        if (_leases.GetEpoch(tenant) is { } held)
        {
            return Task.FromResult<long?>(held);
        }

        if (_membership.IsLeaving || _stopped != 0)
        {
            return Task.FromResult<long?>(null);
        }

        var done = new TaskCompletionSource<long?>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool flush;
        lock (_pendingGate)
        {
            _pending.Add((tenant, done));
            flush = !_flushing;
            _flushing = true;
        }

        if (flush)
        {
            _ = Task.Run(FlushAcquisitionsAsync, CancellationToken.None);
        }

        return done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Acquires the pending requests, batch after batch, until none is left.</summary>
    private async Task FlushAcquisitionsAsync()
    {
        var host = _host!;
        while (true)
        {
            List<(TenantId Tenant, TaskCompletionSource<long?> Done)> batch;
            lock (_pendingGate)
            {
                if (_pending.Count == 0)
                {
                    _flushing = false;
                    return;
                }

                int take = Math.Min(_pending.Count, _options.AcquireBatchSize);
                batch = _pending.GetRange(0, take);
                _pending.RemoveRange(0, take);
            }

            try
            {
                var tenants = new HashSet<TenantId>();
                foreach (var (tenant, _) in batch)
                {
                    tenants.Add(tenant);
                }

                await _leases.AcquireAsync([.. tenants], host.HostId, EmptyGenerations, (t, epoch) => host.Activate(t, epoch), _stop.Token)
                    .ConfigureAwait(false);
                foreach (var (tenant, done) in batch)
                {
                    done.TrySetResult(_leases.GetEpoch(tenant));
                }
            }
            catch (Exception ex)
            {
                foreach (var (_, done) in batch)
                {
                    done.TrySetException(ex);
                }
            }
        }
    }

    /// <summary>
    /// Activates <paramref name="tenant"/> again under the lease held here (a tenant in error started again); returns whether it did
    /// (<see langword="false"/> when no lease is held or its renewal deadline passed).
    /// </summary>
    public bool TryReactivate(TenantId tenant)
    {
        var host = _host;
        return host is not null && _leases.TryGet(tenant, out var lease)
            && _leases.TryActivate(tenant, lease, lease.Generation, (t, epoch) => host.Activate(t, epoch));
    }

    /// <summary>
    /// Whether the lease of <paramref name="tenant"/> is held here and its local renewal deadline has not passed: only then may this host
    /// act for the tenant. Cheap and lock-free.
    /// </summary>
    public bool Holds(TenantId tenant) => _leases.Holds(tenant);

    /// <summary>The epoch of this host's lease of <paramref name="tenant"/>, or <see langword="null"/> when it holds none.</summary>
    public long? GetEpoch(TenantId tenant) => _leases.GetEpoch(tenant);

    /// <summary>
    /// Releases the lease of <paramref name="tenant"/> (stopped here already), writing <paramref name="finalStatus"/> under it in the same
    /// round trip; returns whether a lease was released.
    /// </summary>
    public async Task<bool> ReleaseAsync(TenantId tenant, TenantStatus? finalStatus, CancellationToken cancellationToken) =>
        await _leases.ReleaseAsync([tenant], [finalStatus], cancellationToken).ConfigureAwait(false) > 0;

    /// <summary>
    /// The desired-running tenants whose lease no live host instance holds (never acquired, released, or expired by the database clock):
    /// the tenants a placement engine should run somewhere now. One statement, in business-id order.
    /// </summary>
    public async Task<IReadOnlyList<TenantId>> ListUnheldAsync(CancellationToken cancellationToken)
    {
        await using var command = _store.CreateCommand(Sql.ReadUnheld);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var tenants = new List<TenantId>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (TenantId.TryParse(reader.GetString(0), out var tenant))
            {
                tenants.Add(tenant);
            }
        }

        return tenants;
    }

    /// <summary>Records a start request: the tenant becomes desired-running (again, when it was in error).</summary>
    /// <exception cref="TenantAlreadyRunningException">The tenant is desired-running already and not in error.</exception>
    public Task RecordStartAsync(TenantId tenant, CancellationToken cancellationToken) =>
        DesiredStateRequests.RecordStartAsync(_store, Sql, tenant, notify: null, cancellationToken);

    /// <summary>Records a stop request (desired-stopped); returns the stopped status to answer with.</summary>
    /// <exception cref="TenantNotFoundException">The tenant is not known.</exception>
    public Task<TenantStatus> RecordStopAsync(TenantId tenant, CancellationToken cancellationToken) =>
        DesiredStateRequests.RecordStopAsync(_store, Sql, tenant, notify: null, _time, cancellationToken);

    /// <summary>
    /// Leaves the fleet after this host's tenants stopped: writes their final statuses (<paramref name="finalStatus"/>) under their leases,
    /// releases every lease and stops the loops; returns how many leases were released. Call once, from
    /// <see cref="ITenantPlacement.StopAsync"/>; later calls return 0.
    /// </summary>
    public async Task<int> StopAsync(Func<TenantId, TenantStatus?> finalStatus, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(finalStatus);
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return 0;
        }

        await _membership.LeaveAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        int released = await _leases.ReleaseAllAsync(finalStatus, cancellationToken).ConfigureAwait(false);
        FleetLog.Left(_logger, _membership.HostId, released);
        await StopLoopsAsync().ConfigureAwait(false);
        return released;
    }

    /// <summary>Stops the loops (without releasing leases: they expire by themselves).</summary>
    public async ValueTask DisposeAsync()
    {
        await StopLoopsAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    void ILeaseFence.OnWriteRefused(TenantId tenant, long epoch)
    {
        FleetLog.WriteRefused(_logger, tenant.Value, epoch);
        if (_leases.GetEpoch(tenant) == epoch)
        {
            _leases.Lose([tenant], "a write was refused");
        }
    }

    Task ILeaseFence.WriteStatusesAsync(IReadOnlyList<(TenantStatus Status, long Epoch)> statuses, CancellationToken cancellationToken) =>
        _leases.WriteStatusesAsync(_store, statuses, cancellationToken);

    private static readonly Dictionary<TenantId, long> EmptyGenerations = [];

    private void StopLost(IReadOnlyList<TenantId> tenants)
    {
        if (_host is { } host)
        {
            _losing.Stop(host, tenants);
        }

        _onLost?.Invoke(tenants);
    }

    private async Task StopLoopsAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _losing.WhenAllAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
