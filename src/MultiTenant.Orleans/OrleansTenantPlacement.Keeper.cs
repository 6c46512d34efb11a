using Orleans.Runtime;

namespace MultiTenant.Orleans;

/// <summary>
/// The keeper: keeps the desired tenants running, driven by membership changes and by the leases (not by reminders). One silo nudges
/// at a time (the oldest active one, by the current membership snapshot), so the desired tenants are read once per round however many
/// silos there are; when it dies, the next one takes over as soon as the membership says so.
/// </summary>
internal sealed partial class OrleansTenantPlacement
{
    // How many grain nudges are in flight at once (each may acquire a lease: one statement on the coordination pool).
    private const int NudgeConcurrency = 32;

    private readonly IClusterMembershipService _membership;
    private readonly ILocalSiloDetails _silo;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _keeperGate = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _keeper = Task.CompletedTask;
    private Task _watcher = Task.CompletedTask;
    private bool _keeperStarted;

    /// <summary>Makes the keeper run a round now.</summary>
    private void Nudge() => _wake.TrySetResult();

    private void StartKeeper()
    {
        lock (_keeperGate)
        {
            if (_keeperStarted || _stop.IsCancellationRequested)
            {
                return;
            }

            _keeperStarted = true;
            var stop = _stop.Token;
            _watcher = Task.Run(() => WatchMembershipAsync(stop), CancellationToken.None);
            _keeper = Task.Run(() => KeepAsync(stop), CancellationToken.None);
        }
    }

    private async Task StopKeeperAsync()
    {
        lock (_keeperGate)
        {
            if (!_stop.IsCancellationRequested)
            {
                _stop.Cancel();
            }
        }

        await Task.WhenAll(_keeper, _watcher).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task WatchMembershipAsync(CancellationToken stop)
    {
        try
        {
            await foreach (var _ in _membership.MembershipUpdates.WithCancellation(stop).ConfigureAwait(false))
            {
                Nudge();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task KeepAsync(CancellationToken stop)
    {
        string trigger = "start";
        while (!stop.IsCancellationRequested)
        {
            if (IsKeeper())
            {
                try
                {
                    await NudgeUnheldAsync(trigger, stop).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stop.IsCancellationRequested && ex is not OutOfMemoryException)
                {
                    OrleansFleetLog.KeeperFailed(_logger, ex);
                }
            }

            var wake = _wake;
            try
            {
                bool woken = await wake.Task.WaitAsync(_options.KeeperInterval, Time, stop).ContinueWith(
                    static t => t.IsCompletedSuccessfully, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)
                    .ConfigureAwait(false);
                trigger = woken ? "membership change or lost lease" : "interval";
            }
            finally
            {
                if (wake.Task.IsCompleted)
                {
                    Interlocked.CompareExchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), wake);
                }
            }
        }
    }

    /// <summary>Whether this silo is the oldest active one in the current membership snapshot (or the only one).</summary>
    private bool IsKeeper()
    {
        var self = _silo.SiloAddress;
        SiloAddress? oldest = null;
        foreach (var member in _membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status == SiloStatus.Active && (oldest is null || member.SiloAddress.Generation < oldest.Generation
                || (member.SiloAddress.Generation == oldest.Generation && member.SiloAddress.CompareTo(oldest) < 0)))
            {
                oldest = member.SiloAddress;
            }
        }

        return oldest is null || oldest.Equals(self);
    }

    private async Task NudgeUnheldAsync(string trigger, CancellationToken stop)
    {
        var unheld = await _leases.ListUnheldAsync(stop).ConfigureAwait(false);
        if (unheld.Count == 0)
        {
            return;
        }

        OrleansFleetLog.KeeperNudged(_logger, unheld.Count, trigger);
        await Parallel.ForEachAsync(unheld, new ParallelOptions { MaxDegreeOfParallelism = NudgeConcurrency, CancellationToken = stop }, async (tenant, ct) =>
        {
            try
            {
                await Grain(tenant).EnsureRunningAsync(restart: false).WaitAsync(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsUnreachable(ex))
            {
                // Its activation is on a silo not yet declared dead: the next round (after the membership change) reaches it.
            }
        }).ConfigureAwait(false);
    }
}
