using Microsoft.Extensions.Logging;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Hosting;

namespace MultiTenant.Supervision;

/// <summary>
/// Supervises one tenant: an async loop that owns the client, the state machine and the reconnect policy.
/// </summary>
/// <remarks>
/// All I/O of a tenant happens on its loop. Start and stop only swap a few fields under <see cref="_gate"/> (never held across I/O)
/// and signal the loop through its cancellation token; a new run first awaits the end of the previous one, so a tenant never has two
/// clients. Each run has a generation number, and a status from a finished run can never overwrite a newer one.
/// </remarks>
internal sealed partial class TenantSupervisor
{
    private readonly TenantCoordinator _owner;
    private readonly TenantId _tenant;
    private readonly KeyValuePair<string, object?> _tenantTag;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();

    private TenantStatus _status;
    private long _generation;
    private bool _running;
    private bool _retired;
    private long _ownershipEpoch;
    private bool _initialStateCounted;
    private CancellationTokenSource? _runCts;
    private CancellationTokenSource? _runAbort;
    private Task _runTask = Task.CompletedTask;

    private ITenantClient? _client;
    private TenantEventQueue? _queue;

    public TenantSupervisor(TenantCoordinator owner, TenantId tenant, TenantStatus? initial)
    {
        _owner = owner;
        _tenant = tenant;
        _tenantTag = owner.Metrics.GetTenantTag(tenant);
        _logger = owner.Logger;
        // A stored status of a running state describes a run that is not on this host now.
        _status = initial is null
            ? new TenantStatus(tenant, TenantState.Stopped, null, owner.TimeProvider.GetUtcNow(), null, owner.Options.HostId)
            : initial.IsRunning ? initial with { State = TenantState.Stopped } : initial;
    }

    public TenantId Tenant => _tenant;

    public TenantStatus Status => Volatile.Read(ref _status);

    /// <summary>Events waiting in the tenant's queue.</summary>
    public int QueueDepth => Volatile.Read(ref _queue)?.Count ?? 0;

    /// <summary>The tenant's message counts while this supervisor is kept, across its runs (<see cref="Diagnostics.ITenantTrafficReader"/>).</summary>
    public TenantTrafficCounter Traffic { get; } = new();

    /// <summary>The current run, completed when the tenant is stopped or in error.</summary>
    public Task Completion
    {
        get
        {
            lock (_gate)
            {
                return _runTask;
            }
        }
    }

    /// <summary>Starts a run unless one is active. A tenant in <see cref="TenantState.Error"/> can be started again.</summary>
    /// <param name="ownershipEpoch">The epoch under which the run owns the tenant (given to the client and to its state store).</param>
    /// <param name="retired">Set when the supervisor was retired (<see cref="TryRetire"/>): start a new one instead.</param>
    /// <returns><see langword="false"/> when the tenant is already running, or the supervisor is retired.</returns>
    public bool TryStart(long ownershipEpoch, out bool retired)
    {
        lock (_gate)
        {
            retired = _retired;
            if (_running || _retired)
            {
                return false;
            }

            _running = true;
            _ownershipEpoch = ownershipEpoch;
            long generation = ++_generation;
            var cts = new CancellationTokenSource();
            _runCts = cts;

            // The run's handlers are cancelled when the host's shutdown timeout runs out, or a bounded time after ownership was lost.
            var abort = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _owner.TimeProvider);
            _runAbort = abort;
            var previous = _runTask;
            var now = _owner.TimeProvider.GetUtcNow();
            PublishLocked(_status with { State = TenantState.Starting, StartedAt = now, UpdatedAt = now, Error = null, Host = _owner.Options.HostId });
            _owner.Metrics.SeedTenant(_tenantTag); // issue 13: a started tenant's counters exist at 0 before any traffic
            _runTask = Task.Run(() => RunAsync(previous, generation, cts, abort, ownershipEpoch));
            return true;
        }
    }

    /// <summary>The ownership epoch of the current run; <see langword="false"/> when the tenant is not running here.</summary>
    public bool TryGetOwnershipEpoch(out long epoch)
    {
        lock (_gate)
        {
            epoch = _ownershipEpoch;
            return _running;
        }
    }

    /// <summary>
    /// Stops the current run: cancels a connect or a backoff, disconnects the client, drains the event queue. Completes when the
    /// tenant is stopped. The tenant's status becomes <see cref="TenantState.Stopped"/>, or <see cref="TenantState.Error"/> with the
    /// ownership-lost reason when <paramref name="ownershipLost"/>; then handlers still running after
    /// <see cref="TenantCoordinatorOptions.OwnershipLostDrainTimeout"/> are cancelled.
    /// </summary>
    public async Task StopAsync(bool ownershipLost = false)
    {
        CancellationTokenSource? cts;
        CancellationTokenSource? abort;
        Task run;
        long generation;
        bool wasRunning;
        lock (_gate)
        {
            cts = _runCts;
            abort = _runAbort;
            run = _runTask;
            generation = _generation;
            wasRunning = _running;
            _runCts = null;
            _running = false;
            if (ownershipLost && wasRunning)
            {
                // Seen at once by readers: this host no longer acts for the tenant, even while its run winds down.
                PublishLocked(_status with { State = TenantState.Error, Error = OwnershipLostError, UpdatedAt = _owner.TimeProvider.GetUtcNow() });
            }
        }

        if (cts is not null)
        {
            await cts.CancelAsync().ConfigureAwait(false);
        }

        if (ownershipLost && abort is not null)
        {
            try
            {
                abort.CancelAfter(_owner.Options.OwnershipLostDrainTimeout);
            }
            catch (ObjectDisposedException)
            {
                // The run ended meanwhile.
            }
        }

        await run.ConfigureAwait(false);

        lock (_gate)
        {
            // A start that raced in after this stop owns the status now.
            if (_generation == generation && !_running && _status.State != TenantState.Stopped && !ownershipLost)
            {
                PublishLocked(_status with { State = TenantState.Stopped, UpdatedAt = _owner.TimeProvider.GetUtcNow() });
            }
        }

        cts?.Dispose();
    }

    /// <summary>The error a tenant reports when this host lost its ownership (<see cref="TenantFatalReason.OwnershipLost"/>).</summary>
    internal const string OwnershipLostError = "ownership lost: another host owns the tenant now, or this host could not renew its lease in time";

    private async Task RunAsync(Task previous, long generation, CancellationTokenSource runCts, CancellationTokenSource abort, long ownershipEpoch)
    {
        using var abortOnShutdown = _owner.AbortToken.UnsafeRegister(static s => CancelQuietly((CancellationTokenSource)s!), abort);
        try
        {
            await RunCoreAsync(previous, generation, runCts, abort.Token, ownershipEpoch).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                if (ReferenceEquals(_runAbort, abort))
                {
                    _runAbort = null;
                }

                abort.Dispose();
            }
        }
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run ended meanwhile.
        }
    }

    private async Task RunCoreAsync(Task previous, long generation, CancellationTokenSource runCts, CancellationToken abortToken, long ownershipEpoch)
    {
        // Never two clients of one tenant: wait for the previous run (a stop, or a run that ended in error) to finish its cleanup.
        await previous.ConfigureAwait(false);

        var options = _owner.Options;
        var time = _owner.TimeProvider;
        var stop = runCts.Token;
        using var scope = _logger.BeginScope(new TenantLogScope(_tenant));
        var queue = new TenantEventQueue(
            _tenant, options.EventQueueCapacity, options.EventQueueFullMode, _owner.Handlers, _owner.Metrics, _logger, time, abortToken, Traffic);
        queue.Start();
        Volatile.Write(ref _queue, queue);
        // Reports go to this run only: a client of an earlier run that reports late cannot disturb this one.
        var reports = new RunReports();
        var context = new TenantClientContext(_tenant, queue, _owner.GetRunStateStore(_tenant, ownershipEpoch), _logger, time, reports, ownershipEpoch);
        ITenantClient? client = null;
        int failures = 0;
        var fatal = reports.Fatal;
        Log.TenantStarted(_logger, _tenant.Value);
        try
        {
            while (true)
            {
                stop.ThrowIfCancellationRequested();
                ThrowIfFatal(fatal.Task);
                var loss = new TaskCompletionSource<ConnectionLoss>(TaskCreationOptions.RunContinuationsAsynchronously);
                reports.CurrentLoss = loss;
                try
                {
                    // A transient failure to create the client (its state store unreachable, ...) is retried like a failed connect;
                    // a TenantFatalException (no paired device, ...) ends the run.
                    client ??= await _owner.ClientFactory.CreateClientAsync(context, stop).ConfigureAwait(false);
                    await ConnectAsync(client, stop).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not TenantFatalException && !stop.IsCancellationRequested)
                {
                    ThrowIfFatal(fatal.Task);
                    _owner.Metrics.Errors.Add(1, _tenantTag, new KeyValuePair<string, object?>("kind", "connect"));
                    string errorId = TenantErrorReference.NewId();
                    Log.ConnectFailed(_logger, _tenant.Value, failures + 1, errorId, ex);
                    Publish(generation, TenantState.Disconnected, DescribeConnectFailure(ex, clientCreated: client is not null, errorId));
                    await BackoffAsync(failures++, fatal.Task, stop).ConfigureAwait(false);
                    continue;
                }

                var connectedAt = time.GetTimestamp();
                Volatile.Write(ref _client, client);
                Publish(generation, TenantState.Connected, null);
                Log.TenantConnected(_logger, _tenant.Value);
                await queue.WriteAsync(new TenantConnectedEvent { Timestamp = time.GetUtcNow() }, stop).ConfigureAwait(false);

                var lost = await MonitorAsync(client, reports, loss, stop).ConfigureAwait(false);
                // Measured at the drop: time spent afterwards (a slow handler, a slow disconnect) is not connected time.
                bool stable = time.GetElapsedTime(connectedAt) >= options.StableConnectionPeriod;
                Volatile.Write(ref _client, null);
                if (lost.Fatal is { } fatalReason)
                {
                    throw new TenantFatalException(fatalReason, lost.Reason);
                }

                _owner.Metrics.Reconnects.Add(1, _tenantTag);
                Log.TenantDisconnected(_logger, _tenant.Value, lost.Reason);
                Publish(generation, TenantState.Disconnected, lost.Reason);
                await queue.WriteAsync(new TenantDisconnectedEvent { Timestamp = time.GetUtcNow(), Reason = lost.Reason }, stop).ConfigureAwait(false);
                await DisconnectQuietlyAsync(client).ConfigureAwait(false);
                if (stable)
                {
                    failures = 0;
                }

                await BackoffAsync(failures++, fatal.Task, stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped (by the API or by shutdown): fall through to the cleanup.
        }
        catch (TenantFatalException ex)
        {
            // Its message is the client's public reason, written to be shown (TenantFatalException): the status and the event carry it.
            _owner.Metrics.Errors.Add(1, _tenantTag, new KeyValuePair<string, object?>("kind", "fatal"));
            Log.TenantFaulted(_logger, _tenant.Value, ex.Reason.ToString(), ex.Message, ex);
            EndRunInError(generation, runCts, ex.Message);
            await queue.WriteAsync(new TenantFaultedEvent { Timestamp = time.GetUtcNow(), Reason = ex.Reason, Error = ex.Message }, CancellationToken.None)
                .ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A failure we did not foresee (a bug): the tenant must not be left half-running.
            _owner.Metrics.Errors.Add(1, _tenantTag, new KeyValuePair<string, object?>("kind", "fatal"));
            string errorId = TenantErrorReference.NewId();
            Log.TenantFailedUnexpectedly(_logger, _tenant.Value, errorId, ex);
            EndRunInError(generation, runCts, TenantErrorReference.Describe("the tenant's run failed unexpectedly", errorId, MultiTenantEventIds.TenantFailedUnexpectedly));
        }
        finally
        {
            Volatile.Write(ref _client, null);
            reports.Close();
            if (client is not null)
            {
                await DisconnectQuietlyAsync(client).ConfigureAwait(false);
                try
                {
                    await client.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    Log.ClientCleanupFailed(_logger, _tenant.Value, "dispose", ex);
                }
            }

            // Drain: every queued event is handled before the tenant counts as stopped.
            queue.Complete();
            await queue.Completion.ConfigureAwait(false);
            Volatile.Write(ref _queue, null);
            Log.TenantStopped(_logger, _tenant.Value);
        }
    }
}
