using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Hosting;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>The reconciler: reads the desired tenants and the live hosts, places them by rendezvous hashing, claims the leases of the tenants placed here and hands over (releases) the others.</summary>
internal sealed partial class FleetMember
{
    // Past a lease's expiry by the database clock before the reconcile that claims it (the database judges expiry by its own now()).
    private static readonly TimeSpan LeaseExpiryGrace = TimeSpan.FromMilliseconds(20);

    // When the reconcile loop runs next without a notification: the interval, or sooner when a lease placed here expires sooner.
    private TimeSpan _nextReconcile;

    /// <summary>Runs one reconcile now (tests; the loop runs it on notifications and every <see cref="FleetOptions.ReconcileInterval"/>).</summary>
    internal async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        _nextReconcile = _options.ReconcileInterval;
        var coordinator = _host;
        if (coordinator is null || _membership.IsLeaving || _membership.Superseded || CoordinationPaused || coordinator.IsStopping)
        {
            return;
        }

        var desired = new List<TenantId>();
        var generations = new Dictionary<TenantId, long>();
        var held = new HashSet<TenantId>();
        var hosts = new List<FleetHost>();

        // Another instance's lease may expire, or another host count as dead, before the next interval: the next reconcile is due just
        // after the earliest such moment, so a dead host's tenants are placed and claimed at once rather than up to a whole interval
        // later (claiming needs both: the owner dead by its heartbeats and its leases expired). A live host renews and heartbeats before
        // then, so with a short interval (1 s by default) this only moves the reconciles that follow a host's death.
        double nextExpiry = double.MaxValue;
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
                    if (reader.GetGuid(2) != InstanceId)
                    {
                        nextExpiry = Math.Min(nextExpiry, reader.GetDouble(4));
                    }
                }
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var host = new FleetHost(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetInt32(1));
                hosts.Add(host);
                if (host.HostId != HostId)
                {
                    nextExpiry = Math.Min(nextExpiry, reader.GetDouble(2));
                }
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
            if (_leases.TryGet(tenant, out var lease))
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

        _nextReconcile = nextExpiry < _options.ReconcileInterval.TotalSeconds
            ? TimeSpan.FromSeconds(Math.Max(nextExpiry, 0)) + LeaseExpiryGrace
            : _options.ReconcileInterval;

        foreach (var tenant in _leases.Tenants)
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

        for (int i = 0; i < toAcquire.Count && !coordinator.IsStopping && !_membership.IsLeaving; i += _options.AcquireBatchSize)
        {
            var chunk = toAcquire.GetRange(i, Math.Min(_options.AcquireBatchSize, toAcquire.Count - i));
            await _leases.AcquireAsync(chunk, HostId, generations, (tenant, epoch) => coordinator.Activate(tenant, epoch), cancellationToken).ConfigureAwait(false);
        }
    }

    private void ResumeIfNeeded(ITenantHost coordinator, TenantId tenant, LeaseKeeper.OwnedLease lease, long generation)
    {
        var local = coordinator.GetLocalStatus(tenant);
        bool restart = local is null || local.State == TenantState.Stopped
            || (local.State == TenantState.Error && generation > lease.Generation);
        if (restart)
        {
            _leases.TryActivate(tenant, lease, generation, (t, epoch) => coordinator.Activate(t, epoch));
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
        await _leases.ReleaseAsync(tenants, finals, cancellationToken).ConfigureAwait(false);
    }

    private async Task ReconcileLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            if (!await _reconcileWake.WaitAsync(_nextReconcile, stop).ConfigureAwait(false))
            {
                return;
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
}
