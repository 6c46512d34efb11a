using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Scheduling;
using MultiTenant.Storage;
using MultiTenant.Supervision;

namespace MultiTenant.Hosting;

/// <summary>
/// The coordinator: a hosted service that runs one <see cref="TenantSupervisor"/> per tenant, resumes the tenants recorded as running
/// when the host starts, and stops them all (draining their event queues) when the host stops.
/// </summary>
/// <remarks>Modelled on Polly's <c>ResiliencePipelineRegistry&lt;TKey&gt;</c>: a concurrent map of per-key workers.</remarks>
public sealed partial class TenantCoordinator : ITenantCoordinator, ITenantHost, ITenantOwnershipReader, IHostedService, IAsyncDisposable
{
    /// <summary>The shared timers fire at most this often: a health check or a backoff ends at most this long after it is due.</summary>
    private static readonly TimeSpan TimerResolution = TimeSpan.FromMilliseconds(10);

    private readonly ConcurrentDictionary<TenantId, TenantSupervisor> _supervisors = new();
    private readonly ITenantStatusStore _statusStore;
    private readonly ITenantStoreHealth? _storeHealth;
    private readonly IServiceProvider _services;
    private readonly IHostApplicationLifetime? _lifetime;
    private readonly CancellationTokenSource _abort = new();
    private readonly StatusWriter _statusWriter;
    private readonly ITenantPlacement _placement;
    private readonly ITenantStateStoreProvider _stateStores;
    private readonly ITenantRunStateStoreProvider? _runStateStores;
    private readonly TenantStatusFeed? _statusFeed;
    private readonly int[] _counts = new int[5];
    private ITenantClientFactory? _clientFactory;
    private CancellationTokenRegistration _stoppingRegistration;
    private volatile bool _stopping;
    private int _disposed;
    private int _supervisorCount; // ConcurrentDictionary.Count takes every lock of the map

    /// <summary>Creates the coordinator. Resolved from DI by <c>AddWhatsAppTenants()</c>.</summary>
    public TenantCoordinator(
        IOptions<TenantCoordinatorOptions> options,
        ITenantRegistry registry,
        ITenantStatusStore statusStore,
        ITenantStateStoreProvider stateStores,
        IEnumerable<ITenantEventHandler> handlers,
        TenantMetrics metrics,
        IServiceProvider services,
        TimeProvider? timeProvider = null,
        ILogger<TenantCoordinator>? logger = null,
        IHostApplicationLifetime? lifetime = null,
        ITenantStoreHealth? storeHealth = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handlers);
        Options = options.Value;
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _statusStore = statusStore ?? throw new ArgumentNullException(nameof(statusStore));
        _stateStores = stateStores ?? throw new ArgumentNullException(nameof(stateStores));
        _runStateStores = services?.GetService(typeof(ITenantRunStateStoreProvider)) as ITenantRunStateStoreProvider;
        Metrics = metrics ?? throw new ArgumentNullException(nameof(metrics));
        _services = services ?? throw new ArgumentNullException(nameof(services));
        Handlers = handlers.ToArray();
        TimeProvider = timeProvider ?? TimeProvider.System;
        Logger = logger ?? (ILogger)NullLogger.Instance;
        _lifetime = lifetime;
        _storeHealth = storeHealth;
        ConnectLimiter = new AdaptiveConnectLimiter(TimeProvider, Options.MaxConcurrentConnects, Options.MaxConnectsPerSecond);
        HealthChecks = new DelayScheduler(TimeProvider, TimerResolution);
        Backoffs = new DelayScheduler(TimeProvider, TimerResolution);
        _statusWriter = new StatusWriter(statusStore, TimeProvider, Logger) { Written = OnStatusWritten };
        _statusFeed = services.GetService(typeof(TenantStatusFeed)) as TenantStatusFeed;
        _placement = services.GetService(typeof(ITenantPlacement)) as ITenantPlacement ?? new SingleHostPlacement(this, registry, statusStore, options);
        Metrics.RegisterObservers(() => Counts, () => _storeHealth?.PoolStatistics);
    }

    /// <inheritdoc />
    public string HostId => Options.HostId;

    /// <inheritdoc />
    public bool IsStopping => _stopping;

    /// <inheritdoc />
    public TenantCounts Counts => new(
        Volatile.Read(ref _counts[(int)TenantState.Starting]),
        Volatile.Read(ref _counts[(int)TenantState.Connected]),
        Volatile.Read(ref _counts[(int)TenantState.Disconnected]),
        Volatile.Read(ref _counts[(int)TenantState.Error]));

    internal TenantCoordinatorOptions Options { get; }

    internal TimeProvider TimeProvider { get; }

    /// <summary>Tenants this coordinator has a supervisor for: those running here, in error, or stopped with a status not yet written.</summary>
    internal int SupervisorCount => Volatile.Read(ref _supervisorCount);

    internal ILogger Logger { get; }

    internal TenantMetrics Metrics { get; }

    internal ITenantEventHandler[] Handlers { get; }

    /// <summary>Spreads connects: an adaptive concurrency limit (ceiling <see cref="TenantCoordinatorOptions.MaxConcurrentConnects"/>) and a rate.</summary>
    internal AdaptiveConnectLimiter ConnectLimiter { get; }

    /// <summary>The connected tenants' health-check waits, on one timer (issue 12: an idle tenant holds no timer of its own).</summary>
    internal DelayScheduler HealthChecks { get; }

    /// <summary>The reconnect backoff waits, on one timer.</summary>
    internal DelayScheduler Backoffs { get; }

    /// <summary>Cancelled when the host's shutdown timeout runs out: handlers still running are cancelled.</summary>
    internal CancellationToken AbortToken => _abort.Token;

    internal ITenantClientFactory ClientFactory => _clientFactory ??= ResolveClientFactory();

    /// <summary>A uniformly distributed number in [0, 1) for backoff jitter. Replaceable in tests.</summary>
    internal Func<double> NextRandom { get; set; } = static () => Random.Shared.NextDouble();

    /// <summary>
    /// Observes every published status, in order per tenant: raised on the publishing thread under the tenant's lock, after the counts
    /// were updated. It must be quick and must not call back into the coordinator. Tests watch the state machine through it.
    /// </summary>
    internal Action<TenantStatus>? StatusObserver { get; set; }

    /// <inheritdoc />
    public ValueTask<TenantStatus> StartAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        return _stopping ? throw new TenantCoordinatorStoppingException() : StartPlacedAsync(tenant, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<TenantStatus> StopAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        return _placement.RequestStopAsync(tenant, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<TenantStatus?> GetStatusAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        if (_supervisors.TryGetValue(tenant, out var supervisor) && _placement.IsPlacedHere(tenant))
        {
            return supervisor.Status;
        }

        return await _statusStore.GetAsync(tenant, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<TenantStatus>> ListStatusesAsync(CancellationToken cancellationToken = default)
    {
        var stored = await _statusStore.ListAsync(cancellationToken).ConfigureAwait(false);
        var merged = new Dictionary<TenantId, TenantStatus>(stored.Count + SupervisorCount);
        foreach (var status in stored)
        {
            merged[status.BusinessId] = status;
        }

        // This host's own view is the freshest for the tenants placed here.
        foreach (var (tenant, supervisor) in _supervisors)
        {
            if (_placement.IsPlacedHere(tenant))
            {
                merged[tenant] = supervisor.Status;
            }
        }

        var list = new List<TenantStatus>(merged.Values);
        list.Sort(static (a, b) => a.BusinessId.CompareTo(b.BusinessId));
        return list;
    }

    /// <inheritdoc />
    public Task<SendMessageResult> SendMessageAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        CheckSendable(tenant, message);
        return TenantTracing.Source.HasListeners()
            ? SendTracedAsync(tenant, message, cancellationToken)
            : _placement.RouteSendAsync(tenant, message, cancellationToken);
    }

    private async Task<SendMessageResult> SendTracedAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken)
    {
        using var activity = TenantTracing.Source.StartActivity("tenant send");
        activity?.SetTag(TenantTracing.BusinessIdAttribute, tenant.Value);
        activity?.SetTag(TenantTracing.MessageKindAttribute, message.Content.Kind);
        activity?.SetTag(TenantTracing.LocalAttribute, _placement.IsPlacedHere(tenant));
        try
        {
            return await _placement.RouteSendAsync(tenant, message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            TenantTracing.RecordFailure(activity, ex);
            throw;
        }
    }

    /// <inheritdoc />
    public async Task LogoutAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        if (_supervisors.TryGetValue(tenant, out var supervisor) && _placement.IsPlacedHere(tenant))
        {
            await supervisor.LogoutAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        var status = await GetStatusAsync(tenant, cancellationToken).ConfigureAwait(false) ?? throw new TenantNotFoundException(tenant);
        throw new TenantNotConnectedException(tenant, status.State);
    }

    /// <inheritdoc />
    public bool TryGetOwnershipEpoch(TenantId tenant, out long epoch)
    {
        epoch = 0;
        return _supervisors.TryGetValue(tenant, out var supervisor) && _placement.IsPlacedHere(tenant) && supervisor.TryGetOwnershipEpoch(out epoch);
    }

    /// <inheritdoc />
    bool ITenantHost.Activate(TenantId tenant, long ownershipEpoch)
    {
        ThrowIfDefault(tenant);
        return !_stopping && StartSupervisor(tenant, ownershipEpoch);
    }

    /// <inheritdoc />
    async Task<TenantStatus?> ITenantHost.DeactivateAsync(TenantId tenant, TenantDeactivationReason reason)
    {
        if (!_supervisors.TryGetValue(tenant, out var supervisor))
        {
            return null;
        }

        await supervisor.StopAsync(ownershipLost: reason == TenantDeactivationReason.OwnershipLost).ConfigureAwait(false);
        return supervisor.Status;
    }

    /// <inheritdoc />
    TenantStatus? ITenantHost.GetLocalStatus(TenantId tenant) => _supervisors.TryGetValue(tenant, out var s) ? s.Status : null;

    /// <inheritdoc />
    Task<SendMessageResult> ITenantHost.SendLocalAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken) =>
        _supervisors.TryGetValue(tenant, out var supervisor)
            ? supervisor.SendAsync(message, cancellationToken)
            : throw new TenantNotConnectedException(tenant, TenantState.Stopped);

    /// <summary>Resumes the tenants recorded as running.</summary>
    async Task IHostedService.StartAsync(CancellationToken cancellationToken)
    {
        _ = ClientFactory; // fail start-up, not the first tenant, when no client factory was registered
        if (_lifetime is not null)
        {
            _stoppingRegistration = _lifetime.ApplicationStopping.Register(static state => ((TenantCoordinator)state!)._stopping = true, this);
        }

        _statusWriter.Start();
        Log.CoordinatorStarted(Logger, HostId);

        // The placement decides which tenants run here: on a single host the registry's, in a fleet those whose leases it holds.
        await _placement.StartAsync(this, cancellationToken).ConfigureAwait(false);
        if (!_supervisors.IsEmpty)
        {
            Log.TenantsResumed(Logger, SupervisorCount);
        }
    }

    /// <summary>
    /// Shutdown (SPEC §9): refuses new starts, stops every tenant (disconnect, drain the event queue) without changing its desired state,
    /// and flushes statuses. When <paramref name="cancellationToken"/> fires (the host's shutdown timeout), running handlers are cancelled.
    /// </summary>
    async Task IHostedService.StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        Interlocked.MemoryBarrier(); // the flag is visible before the supervisors are read: a start either is seen below or sees the flag
        Log.CoordinatorStopping(Logger, SupervisorCount);
        var stops = new List<Task>(SupervisorCount);
        foreach (var supervisor in _supervisors.Values)
        {
            stops.Add(supervisor.StopAsync());
        }

        var all = Task.WhenAll(stops);
        try
        {
            await all.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.ShutdownTimedOut(Logger);
            await _abort.CancelAsync().ConfigureAwait(false);
            await all.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await _statusWriter.StopAsync().ConfigureAwait(false);

        // After the statuses are written (in a fleet, while the leases still fence them): a fleet hands the tenants over at once.
        await _placement.StopAsync(cancellationToken).ConfigureAwait(false);

        Log.CoordinatorStopped(Logger);
    }

    /// <summary>Releases the coordinator. Idempotent: DI disposes the one instance once per registration that returns it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stoppingRegistration.Dispose();
        await _abort.CancelAsync().ConfigureAwait(false);
        await _statusWriter.StopAsync().ConfigureAwait(false);
        _abort.Dispose();
        ConnectLimiter.Dispose();
        HealthChecks.Dispose();
        Backoffs.Dispose();
    }

    internal void OnStatusChanged(TenantStatus previous, TenantStatus next)
    {
        if (previous.State != next.State)
        {
            if (previous.State != TenantState.Stopped)
            {
                Interlocked.Decrement(ref _counts[(int)previous.State]);
            }

            if (next.State != TenantState.Stopped)
            {
                Interlocked.Increment(ref _counts[(int)next.State]);
            }
        }

        _statusWriter.Enqueue(next);
        StatusObserver?.Invoke(next);
        _statusFeed?.Publish(next);
    }

    internal void CountInitialState(TenantState state) => Interlocked.Increment(ref _counts[(int)state]);

    /// <summary>The state store of one run: fenced by its ownership epoch when a run store provider is registered (a fleet).</summary>
    internal ITenantStateStore GetRunStateStore(TenantId tenant, long ownershipEpoch) =>
        _runStateStores?.GetRunStore(tenant, ownershipEpoch) ?? _stateStores.GetStore(tenant);

    private ITenantClientFactory ResolveClientFactory() =>
        (ITenantClientFactory?)_services.GetService(typeof(ITenantClientFactory))
        ?? throw new InvalidOperationException(
            "No ITenantClientFactory is registered. Call services.AddWhatsAppTenants().UseClientFactory<TFactory>() to tell the coordinator how to create each tenant's client.");

    private static void ThrowIfDefault(TenantId tenant)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) names no tenant; use TenantId.Parse.", nameof(tenant));
        }
    }
}
