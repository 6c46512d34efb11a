using Microsoft.Extensions.Logging;
using MultiTenant.Hosting;
using Npgsql;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// The reconciler, one job: placement. Every <see cref="FleetOptions.ReconcileInterval"/>, on a <see cref="Wake"/> (notifications, local
/// API calls, lost leases), and just after the earliest moment another instance's lease expires or another host counts as dead, it reads
/// the desired tenants and the live hosts, places the tenants by rendezvous hashing, claims (through the <see cref="LeaseKeeper"/>) the
/// free or expired leases of the tenants placed here and activates them, resumes a held tenant that stopped or was started again, and
/// hands over (stops, then releases) the tenants placed on another live host or stopped through the API.
/// </summary>
internal sealed class FleetReconciler
{
    // Past a lease's expiry by the database clock before the reconcile that claims it (the database judges expiry by its own now()).
    private static readonly TimeSpan LeaseExpiryGrace = TimeSpan.FromMilliseconds(20);

    private readonly NpgsqlDataSource _coordination;
    private readonly FleetStatements _sql;
    private readonly FleetOptions _options;
    private readonly ILogger _logger;
    private readonly LeaseKeeper _leases;
    private readonly FleetMembership _membership;
    private readonly int _commandTimeoutSeconds;
    private readonly Func<bool> _paused;
    private readonly WakeSignal _wake;

    // When the loop reconciles next without a wake-up: the interval, or sooner when another instance's lease or host is due to expire.
    private TimeSpan _next;

    /// <param name="coordination">The coordination data source (reads and claims).</param>
    /// <param name="sql">The fleet's statements.</param>
    /// <param name="options">Validated fleet options.</param>
    /// <param name="time">The clock of the loop.</param>
    /// <param name="logger">Logs failed reconciles.</param>
    /// <param name="leases">Claims, holds and releases the leases.</param>
    /// <param name="membership">This instance's host id; no placement while it leaves or was superseded.</param>
    /// <param name="commandTimeoutSeconds">The store's command timeout.</param>
    /// <param name="paused">Whether to skip reconciles now (a test's stalled coordination).</param>
    public FleetReconciler(
        NpgsqlDataSource coordination, FleetStatements sql, FleetOptions options, TimeProvider time, ILogger logger, LeaseKeeper leases,
        FleetMembership membership, int commandTimeoutSeconds, Func<bool> paused)
    {
        _coordination = coordination;
        _sql = sql;
        _options = options;
        _logger = logger;
        _leases = leases;
        _membership = membership;
        _commandTimeoutSeconds = commandTimeoutSeconds;
        _paused = paused;
        _wake = new WakeSignal(time);
        _next = options.ReconcileInterval;
    }

    /// <summary>How long the loop waits, without a wake-up, after the last reconcile.</summary>
    public TimeSpan NextReconcile => _next;

    /// <summary>Asks for a reconcile now (coalesced with other requests). Never blocks.</summary>
    public void Wake() => _wake.Wake();

    /// <summary>Reconciles for <paramref name="host"/> on every wake-up and after <see cref="NextReconcile"/>, until <paramref name="stop"/>.</summary>
    public async Task RunAsync(ITenantHost host, CancellationToken stop)
    {
        while (await _wake.WaitAsync(_next, stop).ConfigureAwait(false))
        {
            try
            {
                await ReconcileAsync(host, stop).ConfigureAwait(false);
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

    /// <summary>Reconciles once for <paramref name="host"/> (the loop does it; tests call it directly).</summary>
    public async Task ReconcileAsync(ITenantHost host, CancellationToken cancellationToken)
    {
        _next = _options.ReconcileInterval;
        if (_membership.IsLeaving || _membership.Superseded || _paused() || host.IsStopping)
        {
            return;
        }

        var view = await ReadAsync(cancellationToken).ConfigureAwait(false);

        // Another instance's lease may expire, or another host count as dead, before the next interval: the next reconcile is due just
        // after the earliest such moment, so a dead host's tenants are placed and claimed at once rather than up to a whole interval
        // later (claiming needs both: the owner dead by its heartbeats and its leases expired). A live host renews and heartbeats before
        // then, so with a short interval (1 s by default) this only moves the reconciles that follow a host's death.
        _next = view.NextExpirySeconds < _options.ReconcileInterval.TotalSeconds
            ? TimeSpan.FromSeconds(Math.Max(view.NextExpirySeconds, 0)) + LeaseExpiryGrace
            : _options.ReconcileInterval;

        var placement = Rendezvous.Assign(view.Desired, view.Hosts);
        string me = _membership.HostId;
        var toAcquire = new List<TenantId>();
        var toRelease = new List<TenantId>();
        foreach (var tenant in view.Desired)
        {
            string? assigned = placement[tenant];
            if (_leases.TryGet(tenant, out var lease))
            {
                if (assigned is not null && assigned != me && view.LiveHosts.Contains(assigned))
                {
                    toRelease.Add(tenant); // handoff: the host placement chose claims it once released
                }
                else
                {
                    ResumeIfNeeded(host, tenant, lease, view.Generations[tenant]);
                }
            }
            else if (assigned == me && !view.Held.Contains(tenant))
            {
                toAcquire.Add(tenant);
            }
        }

        foreach (var tenant in _leases.Tenants)
        {
            if (!view.Generations.ContainsKey(tenant))
            {
                toRelease.Add(tenant); // stopped through the API (on any host)
            }
        }

        if (toRelease.Count > 0)
        {
            await StopAndReleaseAsync(host, toRelease, cancellationToken).ConfigureAwait(false);
        }

        for (int i = 0; i < toAcquire.Count && !host.IsStopping && !_membership.IsLeaving; i += _options.AcquireBatchSize)
        {
            var chunk = toAcquire.GetRange(i, Math.Min(_options.AcquireBatchSize, toAcquire.Count - i));
            await _leases.AcquireAsync(chunk, me, view.Generations, (tenant, epoch) => host.Activate(tenant, epoch), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One round trip: the desired tenants with their leases, and the live hosts.</summary>
    private async Task<FleetView> ReadAsync(CancellationToken cancellationToken)
    {
        var view = new FleetView();
        await using var batch = _coordination.CreateBatch();
        batch.Timeout = _commandTimeoutSeconds;
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.ReadDesired));
        var live = new NpgsqlBatchCommand(_sql.ReadLiveHosts);
        live.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _options.DeadAfter });
        batch.BatchCommands.Add(live);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!TenantId.TryParse(reader.GetString(0), out var tenant))
            {
                continue;
            }

            view.Desired.Add(tenant);
            view.Generations[tenant] = reader.GetInt64(1);
            if (reader.GetBoolean(3))
            {
                view.Held.Add(tenant);
                if (reader.GetGuid(2) != _leases.InstanceId)
                {
                    view.NextExpirySeconds = Math.Min(view.NextExpirySeconds, reader.GetDouble(4));
                }
            }
        }

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var host = new FleetHost(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetInt32(1));
            view.Hosts.Add(host);
            view.LiveHosts.Add(host.HostId);
            if (host.HostId != _membership.HostId)
            {
                view.NextExpirySeconds = Math.Min(view.NextExpirySeconds, reader.GetDouble(2));
            }
        }

        view.Hosts.Sort(static (a, b) => string.CompareOrdinal(a.HostId, b.HostId));
        return view;
    }

    private void ResumeIfNeeded(ITenantHost host, TenantId tenant, LeaseKeeper.OwnedLease lease, long generation)
    {
        var local = host.GetLocalStatus(tenant);
        bool restart = local is null || local.State == TenantState.Stopped
            || (local.State == TenantState.Error && generation > lease.Generation);
        if (restart)
        {
            _leases.TryActivate(tenant, lease, generation, (t, epoch) => host.Activate(t, epoch));
        }
    }

    /// <summary>Stops the tenants here, then (one round trip) writes their final statuses under their leases, releases and notifies.</summary>
    private async Task StopAndReleaseAsync(ITenantHost host, List<TenantId> tenants, CancellationToken cancellationToken)
    {
        var stops = new Task<TenantStatus?>[tenants.Count];
        for (int i = 0; i < tenants.Count; i++)
        {
            stops[i] = host.DeactivateAsync(tenants[i], TenantDeactivationReason.Released);
        }

        var finals = await Task.WhenAll(stops).ConfigureAwait(false);
        await _leases.ReleaseAsync(tenants, finals, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>What one reconcile read: the desired tenants (start generations, held leases) and the live hosts (sorted by id).</summary>
    private sealed class FleetView
    {
        public List<TenantId> Desired { get; } = [];

        public Dictionary<TenantId, long> Generations { get; } = [];

        public HashSet<TenantId> Held { get; } = [];

        public List<FleetHost> Hosts { get; } = [];

        public HashSet<string> LiveHosts { get; } = new(StringComparer.Ordinal);

        /// <summary>Seconds until the earliest expiry of another instance's lease or another host's liveness.</summary>
        public double NextExpirySeconds { get; set; } = double.MaxValue;
    }
}
