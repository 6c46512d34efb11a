// Over 400 lines for now: the per-tenant state machine; its timers move to the shared timer of issue 12, which takes the waits and
// timeouts out of this file. Until then it stays whole, so the lifecycle and ownership logic is read in one place.
using System.Diagnostics;
using System.Globalization;
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

    /// <summary>
    /// Adds the initial state (a stored <see cref="TenantState.Error"/>) to the coordinator's counts, once. Called by the coordinator
    /// on the supervisor it keeps: <c>GetOrAdd</c> may build several and throw all but one away, and those must count nothing.
    /// </summary>
    public void CountInitialState()
    {
        lock (_gate)
        {
            CountInitialStateLocked();
        }
    }

    public TenantStatus Status => Volatile.Read(ref _status);

    /// <summary>Events waiting in the tenant's queue.</summary>
    public int QueueDepth => Volatile.Read(ref _queue)?.Count ?? 0;

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
    /// <returns><see langword="false"/> when the tenant is already running.</returns>
    public bool TryStart(long ownershipEpoch)
    {
        lock (_gate)
        {
            if (_running)
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

    public async Task<SendMessageResult> SendAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        var status = Status;
        var client = Volatile.Read(ref _client);
        if (status.State != TenantState.Connected || client is null)
        {
            throw new TenantNotConnectedException(_tenant, status.State);
        }

        using var activity = TenantTracing.Source.HasListeners() ? StartActivity("tenant client send", ActivityKind.Client) : null;
        activity?.SetTag(TenantTracing.MessageKindAttribute, message.Content.Kind);
        try
        {
            var result = await client.SendMessageAsync(message, cancellationToken).ConfigureAwait(false);
            _owner.Metrics.Messages.Add(1, _tenantTag, new KeyValuePair<string, object?>("direction", "out"));
            return result;
        }
        catch (Exception ex)
        {
            TenantTracing.RecordFailure(activity, ex);
            if (ex is TenantSendException)
            {
                _owner.Metrics.Errors.Add(1, _tenantTag, new KeyValuePair<string, object?>("kind", "send"));
            }

            throw;
        }
    }

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
            _tenant, options.EventQueueCapacity, options.EventQueueFullMode, _owner.Handlers, _owner.Metrics, _logger, time, abortToken);
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
                    Log.ConnectFailed(_logger, _tenant.Value, failures + 1, ex);
                    Publish(generation, TenantState.Disconnected, DescribeConnectFailure(ex));
                    await BackoffAsync(failures++, fatal.Task, stop).ConfigureAwait(false);
                    continue;
                }

                var connectedAt = time.GetTimestamp();
                Volatile.Write(ref _client, client);
                Publish(generation, TenantState.Connected, null);
                Log.TenantConnected(_logger, _tenant.Value);
                await queue.WriteAsync(new TenantConnectedEvent { Timestamp = time.GetUtcNow() }, stop).ConfigureAwait(false);

                var lost = await MonitorAsync(client, loss, stop).ConfigureAwait(false);
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
            _owner.Metrics.Errors.Add(1, _tenantTag, new KeyValuePair<string, object?>("kind", "fatal"));
            Log.TenantFaulted(_logger, _tenant.Value, ex.Reason.ToString(), ex.Message);
            EndRunInError(generation, runCts, ex.Message);
            await queue.WriteAsync(new TenantFaultedEvent { Timestamp = time.GetUtcNow(), Reason = ex.Reason, Error = ex.Message }, CancellationToken.None)
                .ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A failure we did not foresee (a bug): the tenant must not be left half-running.
            _owner.Metrics.Errors.Add(1, _tenantTag, new KeyValuePair<string, object?>("kind", "fatal"));
            Log.TenantFaulted(_logger, _tenant.Value, nameof(TenantFatalReason.Other), ex.Message);
            EndRunInError(generation, runCts, "The tenant's client failed unexpectedly: " + ex.GetType().Name);
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

    private async Task ConnectAsync(ITenantClient client, CancellationToken stop)
    {
        // The span covers the wait for a connect slot too: a slow connect is often a queue, not the network.
        using var activity = TenantTracing.Source.HasListeners() ? StartActivity("tenant connect", ActivityKind.Client) : null;
        await _owner.ConnectLimiter.WaitAsync(stop).ConfigureAwait(false);
        activity?.AddEvent(new ActivityEvent("connect slot acquired"));
        try
        {
            using var timeout = new CancellationTokenSource(_owner.Options.ConnectTimeout, _owner.TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
            try
            {
                await client.ConnectAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stop.IsCancellationRequested)
            {
                var timedOut = new ConnectTimeoutException($"The connect attempt did not finish within {_owner.Options.ConnectTimeout}.");
                TenantTracing.RecordFailure(activity, timedOut);
                throw timedOut;
            }
            catch (Exception ex)
            {
                TenantTracing.RecordFailure(activity, ex);
                throw;
            }
        }
        finally
        {
            _owner.ConnectLimiter.Release();
        }
    }

    /// <summary>Starts a span of this tenant on <see cref="TenantTracing.Source"/> (only called when the source has listeners).</summary>
    private Activity? StartActivity(string name, ActivityKind kind)
    {
        var activity = TenantTracing.Source.StartActivity(name, kind);
        activity?.SetTag(TenantTracing.BusinessIdAttribute, _tenant.Value);
        return activity;
    }

    /// <summary>Waits until the connection is lost: reported by the client, or found by the periodic health check.</summary>
    private async Task<ConnectionLoss> MonitorAsync(ITenantClient client, TaskCompletionSource<ConnectionLoss> loss, CancellationToken stop)
    {
        var interval = _owner.Options.HealthCheckInterval;
        while (true)
        {
            // This wait is what an idle tenant holds (10,000 idle tenants hold 10,000 of them), so it is one timer and one registration
            // on the stop token, released as soon as it ends: it completes when the connection is lost, is cancelled when stopping,
            // and times out (not thrown) when the health check is due.
            var wait = ((Task)loss.Task).WaitAsync(interval, _owner.TimeProvider, stop);
            await wait.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (wait.IsCompletedSuccessfully)
            {
                return await loss.Task.ConfigureAwait(false);
            }

            if (wait.IsCanceled)
            {
                await wait.ConfigureAwait(false); // throws: stopping
            }

            _ = wait.Exception; // the TimeoutException that means "check now": observed, so it is never reported as unobserved

            bool alive;
            try
            {
                alive = client.IsConnected && await client.CheckHealthAsync(stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not TenantFatalException && !stop.IsCancellationRequested)
            {
                alive = false;
            }

            if (!alive)
            {
                Log.SilentDropDetected(_logger, _tenant.Value);
                return new ConnectionLoss("the health check found the connection gone", null);
            }
        }
    }

    /// <summary>Waits before the next attempt; a fatal report ends the wait (and the run) at once.</summary>
    private async Task BackoffAsync(int failures, Task<ConnectionLoss> fatal, CancellationToken stop)
    {
        var options = _owner.Options;
        var delay = ReconnectBackoff.GetDelay(failures, options.ReconnectBaseDelay, options.ReconnectMaxDelay, _owner.NextRandom());
        if (delay > TimeSpan.Zero)
        {
            Log.ReconnectScheduled(_logger, _tenant.Value, delay);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
            var elapsed = Task.Delay(delay, _owner.TimeProvider, wait.Token);
            if (await Task.WhenAny(elapsed, fatal).ConfigureAwait(false) == fatal)
            {
                await wait.CancelAsync().ConfigureAwait(false); // releases the timer
            }
            else
            {
                await elapsed.ConfigureAwait(false); // throws when stopping
            }
        }

        ThrowIfFatal(fatal);
    }

    private static void ThrowIfFatal(Task<ConnectionLoss> fatal)
    {
        if (fatal.IsCompletedSuccessfully && fatal.Result.Fatal is { } reason)
        {
            throw new TenantFatalException(reason, fatal.Result.Reason);
        }
    }

    private async Task DisconnectQuietlyAsync(ITenantClient client)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_owner.Options.ConnectTimeout, _owner.TimeProvider);
            await client.DisconnectAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.ClientCleanupFailed(_logger, _tenant.Value, "disconnect", ex);
        }
    }

    private void EndRunInError(long generation, CancellationTokenSource runCts, string error)
    {
        lock (_gate)
        {
            if (_generation == generation)
            {
                _running = false;
                if (ReferenceEquals(_runCts, runCts))
                {
                    _runCts = null;
                }

                PublishLocked(_status with { State = TenantState.Error, Error = error, UpdatedAt = _owner.TimeProvider.GetUtcNow() });
            }
        }
    }

    private void Publish(long generation, TenantState state, string? error)
    {
        lock (_gate)
        {
            if (_generation == generation && _running)
            {
                PublishLocked(_status with { State = state, Error = error, UpdatedAt = _owner.TimeProvider.GetUtcNow() });
            }
        }
    }

    private void CountInitialStateLocked()
    {
        if (!_initialStateCounted)
        {
            _initialStateCounted = true;
            if (_status.State != TenantState.Stopped)
            {
                _owner.CountInitialState(_status.State);
            }
        }
    }

    private void PublishLocked(TenantStatus next)
    {
        CountInitialStateLocked(); // the transition below takes the initial state off the counts
        var previous = _status;
        Volatile.Write(ref _status, next);
        _owner.OnStatusChanged(previous, next);
    }

    /// <summary>
    /// The status error of a failed connect. The text of the library's own exceptions (types of the <c>MultiTenant</c> namespaces, whose
    /// messages are written to be shown, such as a Cloud API error code) is kept; any other exception (a socket, a driver, a bug) is
    /// described by its type only, never by its text, which goes to the log with event id <see cref="MultiTenantEventIds.ConnectFailed"/>.
    /// </summary>
    private static string DescribeConnectFailure(Exception ex) =>
        ex is ConnectTimeoutException ? ex.Message
        : ex.GetType().Namespace is { } ns && (ns == "MultiTenant" || ns.StartsWith("MultiTenant.", StringComparison.Ordinal)) ? "connect failed: " + ex.Message
        : string.Create(CultureInfo.InvariantCulture, $"connect failed ({ex.GetType().Name}); see the log, event id {MultiTenantEventIds.ConnectFailed}");

    /// <summary>The supervisor's own connect timeout: its message is ours, so it may appear in a status.</summary>
    private sealed class ConnectTimeoutException(string message) : TimeoutException(message);

    private readonly record struct ConnectionLoss(string Reason, TenantFatalReason? Fatal);

    /// <summary>One run's receiver of the client's connection reports.</summary>
    private sealed class RunReports : ITenantConnectionSink
    {
        private TaskCompletionSource<ConnectionLoss>? _currentLoss;
        private volatile bool _closed;

        // Kept for the whole run, so a fatal report during a connect attempt or a backoff is not forgotten.
        public TaskCompletionSource<ConnectionLoss> Fatal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // The current connection attempt's drop signal.
        public TaskCompletionSource<ConnectionLoss>? CurrentLoss
        {
            get => Volatile.Read(ref _currentLoss);
            set => Volatile.Write(ref _currentLoss, value);
        }

        public void OnDisconnected(string? reason)
        {
            if (!_closed)
            {
                CurrentLoss?.TrySetResult(new ConnectionLoss(reason ?? "the client reported a lost connection", null));
            }
        }

        public void OnFatal(TenantFatalReason reason, string message)
        {
            if (_closed)
            {
                return;
            }

            var loss = new ConnectionLoss(message, reason);
            Fatal.TrySetResult(loss);
            CurrentLoss?.TrySetResult(loss);
        }

        public void Close()
        {
            _closed = true;
            CurrentLoss = null;
        }
    }
}

/// <summary>The logging scope of a tenant's loop: carries <c>BusinessId</c>.</summary>
internal sealed class TenantLogScope(TenantId tenant) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public int Count => 1;

    public KeyValuePair<string, object?> this[int index] =>
        index == 0 ? new KeyValuePair<string, object?>("BusinessId", tenant.Value) : throw new ArgumentOutOfRangeException(nameof(index));

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        yield return this[0];
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => "BusinessId:" + tenant.Value;
}
