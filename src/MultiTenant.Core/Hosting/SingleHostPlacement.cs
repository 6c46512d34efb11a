using Microsoft.Extensions.Options;
using MultiTenant.Clients;
using MultiTenant.Storage;

namespace MultiTenant.Hosting;

/// <summary>
/// The default placement: every tenant runs on this host. Starts and stops are recorded in the <see cref="ITenantRegistry"/> and applied
/// here; when the host starts, the tenants the registry records as running are resumed
/// (<see cref="TenantCoordinatorOptions.ResumeTenantsOnStart"/>).
/// </summary>
/// <remarks>
/// The coordinator creates it for itself when no other <see cref="ITenantPlacement"/> is registered, so it works before the host starts
/// (only the resume waits for <see cref="StartAsync"/>). It never coordinates with another process: use it only where one process owns
/// the store (the embedded store, tests).
/// </remarks>
public sealed class SingleHostPlacement : ITenantPlacement
{
    private readonly ITenantRegistry _registry;
    private readonly ITenantStatusStore _statuses;
    private readonly bool _resume;
    private readonly ITenantHost _host;

    /// <summary>Creates the placement.</summary>
    /// <param name="host">The host every tenant runs on (the coordinator).</param>
    /// <param name="registry">Where desired state is recorded.</param>
    /// <param name="statuses">Where the statuses of tenants that do not run here are read.</param>
    /// <param name="options">The coordinator's options (<see cref="TenantCoordinatorOptions.ResumeTenantsOnStart"/>).</param>
    public SingleHostPlacement(ITenantHost host, ITenantRegistry registry, ITenantStatusStore statuses, IOptions<TenantCoordinatorOptions> options)
    {
        _host = host ?? throw new ArgumentNullException(nameof(host));
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _statuses = statuses ?? throw new ArgumentNullException(nameof(statuses));
        ArgumentNullException.ThrowIfNull(options);
        _resume = options.Value.ResumeTenantsOnStart;
    }

    /// <inheritdoc />
    public async Task StartAsync(ITenantHost host, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (!_resume)
        {
            return;
        }

        foreach (var tenant in await _registry.ListDesiredRunningAsync(cancellationToken).ConfigureAwait(false))
        {
            host.Activate(tenant, TenantOwnership.SingleHostEpoch);
        }
    }

    /// <inheritdoc />
    public async ValueTask<TenantStatus> RequestStartAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        var host = _host;
        if (!host.Activate(tenant, TenantOwnership.SingleHostEpoch))
        {
            if (host.IsStopping)
            {
                throw new TenantCoordinatorStoppingException();
            }

            throw new TenantAlreadyRunningException(tenant, host.GetLocalStatus(tenant)?.Host);
        }

        if (host.IsStopping)
        {
            // Shutdown began after the activation and may have gone through the tenants before this one started: undo the start, or
            // it would run past the shutdown with its client never stopped.
            await host.DeactivateAsync(tenant, TenantDeactivationReason.Released).ConfigureAwait(false);
            throw new TenantCoordinatorStoppingException();
        }

        try
        {
            await _registry.SetDesiredStateAsync(tenant, running: true, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The start is not recorded, so it must not run either: a restart would not bring it back.
            await host.DeactivateAsync(tenant, TenantDeactivationReason.Released).ConfigureAwait(false);
            throw;
        }

        return host.GetLocalStatus(tenant)!;
    }

    /// <inheritdoc />
    public async ValueTask<TenantStatus> RequestStopAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        var host = _host;
        TenantStatus? stored = null;
        if (host.GetLocalStatus(tenant) is null)
        {
            stored = await _statuses.GetAsync(tenant, cancellationToken).ConfigureAwait(false) ?? throw new TenantNotFoundException(tenant);
        }

        await _registry.SetDesiredStateAsync(tenant, running: false, cancellationToken).ConfigureAwait(false);
        var final = await host.DeactivateAsync(tenant, TenantDeactivationReason.Released).WaitAsync(cancellationToken).ConfigureAwait(false);

        // A stored status of a running state describes a run that is not on this host now.
        return final ?? (stored!.IsRunning ? stored with { State = TenantState.Stopped } : stored);
    }

    /// <inheritdoc />
    public async Task<SendMessageResult> RouteSendAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken)
    {
        var host = _host;
        if (host.GetLocalStatus(tenant) is null)
        {
            _ = await _statuses.GetAsync(tenant, cancellationToken).ConfigureAwait(false) ?? throw new TenantNotFoundException(tenant);
            throw new TenantNotConnectedException(tenant, TenantState.Stopped);
        }

        return await host.SendLocalAsync(tenant, message, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public bool IsPlacedHere(TenantId tenant) => true;

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
