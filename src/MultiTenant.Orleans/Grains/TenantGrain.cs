using Microsoft.Extensions.Logging;
using MultiTenant.Clients;
using MultiTenant.Hosting;
using MultiTenant.PostgreSql.Fleet;
using Orleans;
using Orleans.Placement;

namespace MultiTenant.Orleans.Grains;

/// <summary>
/// A tenant as a grain. Safety is the PostgreSQL lease's, not Orleans' single activation (which does not hold under partitions): the
/// activation runs the tenant only under its lease (with the epoch every write carries); without it the activation is passive and tries
/// again every second, and gives up (deactivates) after two lease TTLs, after which the keeper nudges it again while the tenant should run.
/// </summary>
/// <remarks>
/// Never collected while idle (<see cref="KeepAliveAttribute"/>): a running tenant gets no grain calls for hours. Placed at random over
/// the active silos (<see cref="RandomPlacementAttribute"/>), so tenants started through one host spread over the fleet, and a dead
/// silo's tenants over the survivors.
/// </remarks>
[KeepAlive]
[RandomPlacement]
internal sealed class TenantGrain(OrleansTenantPlacement placement, FleetLeases leases, ILogger<TenantGrain> logger) : Grain, ITenantGrain
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);
    private TenantId _tenant;
    private IGrainTimer? _retry;
    private long _passiveSince;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!TenantId.TryParse(this.GetPrimaryKeyString(), out _tenant))
        {
            throw new ArgumentException($"'{this.GetPrimaryKeyString()}' is not a valid business id.");
        }

        await TryRunAsync(restart: false, cancellationToken).ConfigureAwait(true);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _retry?.Dispose();
        await StopHereAsync(cancellationToken).ConfigureAwait(true);
    }

    public Task<bool> EnsureRunningAsync(bool restart) => TryRunAsync(restart, CancellationToken.None);

    public async Task StopAsync()
    {
        await StopHereAsync(CancellationToken.None).ConfigureAwait(true);
        DeactivateOnIdle();
    }

    public async Task<GrainSendResult> SendAsync(byte[] message)
    {
        if (!leases.Holds(_tenant) || placement.Host is not { } host)
        {
            return new GrainSendResult { Outcome = GrainSendOutcome.NotRunning, State = (int)TenantState.Stopped };
        }

        try
        {
            var result = await host.SendLocalAsync(_tenant, OutboundMessageJson.Parse(message), CancellationToken.None).ConfigureAwait(true);
            return new GrainSendResult { Outcome = GrainSendOutcome.Sent, MessageId = result.MessageId };
        }
        catch (TenantNotConnectedException ex)
        {
            return new GrainSendResult { Outcome = GrainSendOutcome.NotConnected, State = (int)ex.State };
        }
        catch (TenantSendException ex)
        {
            return new GrainSendResult
            {
                Outcome = GrainSendOutcome.Refused, Error = ex.Message, IsTransient = ex.IsTransient, ErrorCode = ex.ErrorCode, RetryAfter = ex.RetryAfter,
            };
        }
    }

    private async Task<bool> TryRunAsync(bool restart, CancellationToken cancellationToken)
    {
        if (placement.Host is not { IsStopping: false } host)
        {
            return false;
        }

        if (leases.Holds(_tenant))
        {
            if (restart && host.GetLocalStatus(_tenant) is { IsRunning: false })
            {
                leases.TryReactivate(_tenant);
            }

            StopRetrying();
            return true;
        }

        if (await leases.TryAcquireAsync(_tenant, cancellationToken).ConfigureAwait(true) is { } epoch)
        {
            OrleansFleetLog.Activated(logger, _tenant.Value, epoch);
            StopRetrying();
            return true;
        }

        // Passive: another live instance holds the lease (a duplicate activation, or the lease of a dead silo that has not expired), or
        // the tenant is not desired-running. Try again until the lease is ours or the wait is clearly pointless.
        if (_retry is null)
        {
            _passiveSince = placement.Time.GetTimestamp();
            _retry = this.RegisterGrainTimer(RetryAsync, RetryInterval, RetryInterval);
            OrleansFleetLog.Passive(logger, _tenant.Value);
        }

        return false;
    }

    private async Task RetryAsync(CancellationToken cancellationToken)
    {
        if (await TryRunAsync(restart: false, cancellationToken).ConfigureAwait(true))
        {
            return;
        }

        if (placement.Time.GetElapsedTime(_passiveSince) > leases.Options.LeaseTtl * 2)
        {
            StopRetrying();
            DeactivateOnIdle();
        }
    }

    private void StopRetrying()
    {
        _retry?.Dispose();
        _retry = null;
    }

    private async Task StopHereAsync(CancellationToken cancellationToken)
    {
        if (placement.Host is not { } host || leases.GetEpoch(_tenant) is null)
        {
            return;
        }

        var final = await host.DeactivateAsync(_tenant, TenantDeactivationReason.Released).ConfigureAwait(true);
        await leases.ReleaseAsync(_tenant, final, cancellationToken).ConfigureAwait(true);
    }
}
