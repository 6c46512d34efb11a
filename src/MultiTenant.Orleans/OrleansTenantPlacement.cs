using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.Clients;
using MultiTenant.Hosting;
using MultiTenant.Orleans.Grains;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.Storage;
using Orleans;
using Orleans.Runtime;

namespace MultiTenant.Orleans;

/// <summary>
/// The Orleans placement: starts, stops and sends are calls to the tenant's grain (no relay table), whose activation runs the tenant on
/// its silo under the tenant's PostgreSQL lease (<see cref="FleetLeases"/>). The keeper (OrleansTenantPlacement.Keeper.cs) keeps the
/// desired tenants running: after each membership change and every <see cref="OrleansFleetOptions.KeeperInterval"/>, one silo (the
/// oldest active one) nudges the grains of the desired tenants whose lease no live host holds, so a dead silo's tenants run again on
/// the survivors once it is declared dead and their leases expired.
/// </summary>
internal sealed partial class OrleansTenantPlacement : ITenantPlacement, ILifecycleParticipant<ISiloLifecycle>, IAsyncDisposable
{
    private readonly FleetLeases _leases;
    private readonly IGrainFactory _grains;
    private readonly ITenantStatusStore _statuses;
    private readonly OrleansFleetOptions _options;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _active = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public OrleansTenantPlacement(
        FleetLeases leases, IGrainFactory grains, IClusterMembershipService membership, ILocalSiloDetails silo, ITenantStatusStore statuses,
        IOptions<OrleansFleetOptions> options, TimeProvider? time, ILogger<OrleansTenantPlacement> logger)
    {
        _leases = leases;
        _grains = grains;
        _membership = membership;
        _silo = silo;
        _statuses = statuses;
        _options = options.Value;
        _options.ThrowIfInvalid();
        Time = time ?? TimeProvider.System;
        _logger = logger;
    }

    /// <summary>This host, once <see cref="StartAsync"/> ran (grains run their tenants on it).</summary>
    public ITenantHost? Host { get; private set; }

    /// <summary>The clock of the grains' waits.</summary>
    public TimeProvider Time { get; }

    public async Task StartAsync(ITenantHost host, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        Host = host;
        await _leases.StartAsync(host, OnLeasesLost, cancellationToken).ConfigureAwait(false);
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(OrleansTenantPlacement), ServiceLifecycleStage.Active, OnSiloActiveAsync, OnSiloStoppingAsync);

    public async ValueTask<TenantStatus> RequestStartAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        if (Host is not { IsStopping: false })
        {
            throw new TenantCoordinatorStoppingException();
        }

        await _leases.RecordStartAsync(tenant, cancellationToken).ConfigureAwait(false);
        await _active.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Grain(tenant).EnsureRunningAsync(restart: true).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsUnreachable(ex))
        {
            // Recorded: the keeper runs it once a silo can (the start itself succeeded).
            Nudge();
        }

        var now = Time.GetUtcNow();
        return new TenantStatus(tenant, TenantState.Starting, now, now, null, null);
    }

    public async ValueTask<TenantStatus> RequestStopAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        var status = await _leases.RecordStopAsync(tenant, cancellationToken).ConfigureAwait(false);
        await _active.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        await Grain(tenant).StopAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return status;
    }

    public async Task<SendMessageResult> RouteSendAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        await _active.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        GrainSendResult result;
        try
        {
            result = await Grain(tenant).SendAsync(OutboundMessageJson.ToUtf8Bytes(message)).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsUnreachable(ex))
        {
            // The grain's silo did not answer: the message was not handed to a client by this call, and a retry may reach the new owner.
            throw new TenantUnavailableException(tenant, _options.KeeperInterval);
        }

        switch (result.Outcome)
        {
            case GrainSendOutcome.Sent:
                return new SendMessageResult(result.MessageId!);
            case GrainSendOutcome.NotConnected:
                throw new TenantNotConnectedException(tenant, (TenantState)result.State);
            case GrainSendOutcome.Refused:
                throw new TenantSendException(result.Error ?? "The backend refused the message.", result.IsTransient, result.ErrorCode, result.RetryAfter);
            default:
                var stored = await _statuses.GetAsync(tenant, cancellationToken).ConfigureAwait(false) ?? throw new TenantNotFoundException(tenant);
                throw new TenantNotConnectedException(tenant, stored.IsRunning ? TenantState.Disconnected : stored.State);
        }
    }

    public bool IsPlacedHere(TenantId tenant) => _leases.Holds(tenant);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await StopKeeperAsync().ConfigureAwait(false);
        var host = Host;
        await _leases.StopAsync(tenant => host?.GetLocalStatus(tenant), cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopKeeperAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private ITenantGrain Grain(TenantId tenant) => _grains.GetGrain<ITenantGrain>(tenant.Value);

    // A silo that died or left while the call was under way, or a call that timed out: nothing was done by this call.
    private static bool IsUnreachable(Exception ex) =>
        ex is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException or ClientNotAvailableException;

    private Task OnSiloActiveAsync(CancellationToken cancellationToken)
    {
        StartKeeper();
        _active.TrySetResult();
        return Task.CompletedTask;
    }

    private Task OnSiloStoppingAsync(CancellationToken cancellationToken) => StopKeeperAsync();

    /// <summary>A lease was lost here (its tenant is being stopped): nudge the grain, so it tries again, and the keeper.</summary>
    private void OnLeasesLost(IReadOnlyList<TenantId> tenants) => Nudge();
}
