using MultiTenant.Supervision;

namespace MultiTenant.Hosting;

/// <summary>
/// The coordinator's map of supervisors (issue 9: bounded resources). A supervisor exists while its tenant runs here, is in error, or
/// has a stopped status not yet written; once the stopped status is in the store, the supervisor is forgotten, and reads of the tenant
/// are answered from the store. Requests for unknown tenants never create one: only a start does.
/// </summary>
public sealed partial class TenantCoordinator
{
    internal TenantSupervisor? FindSupervisor(TenantId tenant) => _supervisors.TryGetValue(tenant, out var s) ? s : null;

    /// <summary>Statuses waiting to be written to the store.</summary>
    internal int PendingStatusWrites => _statusWriter.PendingCount;

    /// <summary>Returns once no status of <paramref name="tenant"/> is pending or being written (and the written one was handled).</summary>
    internal Task FlushStatusAsync(TenantId tenant, CancellationToken cancellationToken = default) =>
        _statusWriter.FlushAsync(tenant, cancellationToken);

    /// <summary>Starts a run of <paramref name="tenant"/>; <see langword="false"/> when it already runs here.</summary>
    private bool StartSupervisor(TenantId tenant, long ownershipEpoch)
    {
        while (true)
        {
            var supervisor = GetOrCreateSupervisor(tenant);
            if (supervisor.TryStart(ownershipEpoch, out bool retired))
            {
                return true;
            }

            if (!retired)
            {
                return false;
            }

            // Retired after its stopped status was written, and about to be forgotten: take it out now and start a new one.
            Forget(tenant, supervisor);
        }
    }

    private TenantSupervisor GetOrCreateSupervisor(TenantId tenant)
    {
        // Two threads may build a supervisor for one tenant and keep one: only the kept one counts its initial state.
        if (!_supervisors.TryGetValue(tenant, out var supervisor))
        {
            var created = new TenantSupervisor(this, tenant, null);
            if (_supervisors.TryAdd(tenant, created))
            {
                Interlocked.Increment(ref _supervisorCount);
                IndexSupervisor(tenant);
                supervisor = created;
            }
            else if (!_supervisors.TryGetValue(tenant, out supervisor))
            {
                return GetOrCreateSupervisor(tenant); // forgotten in between: build again
            }
        }

        supervisor.CountInitialState();
        return supervisor;
    }

    /// <summary>
    /// Called by the status writer for each status it wrote: a stopped tenant whose supervisor still shows exactly that status (no start
    /// came in between) is forgotten, so stopped tenants hold no memory here. Not while the host shuts down: a fleet's placement reads the
    /// final statuses of its tenants from here when it releases their leases, and the coordinator goes away with the host anyway.
    /// </summary>
    private void OnStatusWritten(TenantStatus written)
    {
        if (written.State == TenantState.Stopped
            && !_stopping
            && _supervisors.TryGetValue(written.BusinessId, out var supervisor)
            && supervisor.TryRetire(written))
        {
            Forget(written.BusinessId, supervisor);
        }
    }

    /// <summary>Removes a retired <paramref name="supervisor"/> (once, whoever calls first), never a newer one of the same tenant.</summary>
    private void Forget(TenantId tenant, TenantSupervisor supervisor)
    {
        if (_supervisors.TryRemove(new KeyValuePair<TenantId, TenantSupervisor>(tenant, supervisor)))
        {
            Interlocked.Decrement(ref _supervisorCount);
            UnindexSupervisor(tenant);
        }
    }
}
