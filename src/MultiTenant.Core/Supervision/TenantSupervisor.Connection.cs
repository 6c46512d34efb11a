using System.Diagnostics;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Scheduling;

namespace MultiTenant.Supervision;

/// <summary>The connection of a tenant's run: connect (through the coordinator's limiter), monitor, back off, disconnect.</summary>
internal sealed partial class TenantSupervisor
{
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
            Traffic.CountOut();
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

    private async Task ConnectAsync(ITenantClient client, CancellationToken stop)
    {
        // The span covers the wait for a connect slot too: a slow connect is often a queue, not the network.
        using var activity = TenantTracing.Source.HasListeners() ? StartActivity("tenant connect", ActivityKind.Client) : null;
        long granted = await _owner.ConnectLimiter.AcquireAsync(stop).ConfigureAwait(false);
        activity?.AddEvent(new ActivityEvent("connect slot acquired"));
        var outcome = ConnectOutcome.Ignored;
        try
        {
            using var timeout = new CancellationTokenSource(_owner.Options.ConnectTimeout, _owner.TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
            try
            {
                await client.ConnectAsync(linked.Token).ConfigureAwait(false);
                outcome = ConnectOutcome.Succeeded;
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stop.IsCancellationRequested)
            {
                outcome = ConnectOutcome.Failed;
                var timedOut = new ConnectTimeoutException($"The connect attempt did not finish within {_owner.Options.ConnectTimeout}.");
                TenantTracing.RecordFailure(activity, timedOut);
                throw timedOut;
            }
            catch (Exception ex)
            {
                TenantTracing.RecordFailure(activity, ex);
                if (ex is not TenantFatalException && !stop.IsCancellationRequested)
                {
                    outcome = ConnectOutcome.Failed; // a tenant's own fatal error, or a stop, says nothing about the backend
                }

                throw;
            }
        }
        finally
        {
            _owner.ConnectLimiter.Release(granted, outcome);
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
    private async Task<ConnectionLoss> MonitorAsync(
        ITenantClient client, RunReports reports, TaskCompletionSource<ConnectionLoss> loss, CancellationToken stop)
    {
        var interval = _owner.Options.HealthCheckInterval;
        while (true)
        {
            // This wait is what an idle tenant holds: an entry in the coordinator's shared health-check scheduler (one timer for all
            // tenants, no task of its own beyond the entry). A lost connection interrupts it at once (RunReports); stopping cancels it
            // (thrown); otherwise it completes when the check is due.
            var wait = _owner.HealthChecks.Start(interval, stop);
            reports.SetHealthWait(wait.Entry);
            if (loss.Task.IsCompleted)
            {
                wait.Interrupt(); // reported before the wait was published
            }

            bool due = await wait.Task.ConfigureAwait(false); // throws when stopping
            reports.SetHealthWait(null);
            if (!due)
            {
                return await loss.Task.ConfigureAwait(false);
            }

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
            var elapsed = _owner.Backoffs.Start(delay, stop); // shared by every waiting tenant: one timer
            if (await Task.WhenAny(elapsed.Task, fatal).ConfigureAwait(false) == fatal)
            {
                elapsed.Cancel();
            }
            else
            {
                await elapsed.Task.ConfigureAwait(false); // throws when stopping
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

    /// <summary>
    /// The status error of a failed connect: the supervisor's own timeout message; a fixed reason with the client's public reason of a
    /// <see cref="TenantConnectException"/>; otherwise a fixed reason only, never the exception's text (of any type, the library's own
    /// included: a store or driver message may hold a connection string or a host name). Each with an error id
    /// (<see cref="TenantErrorReference"/>) that the log line with event id <see cref="MultiTenantEventIds.ConnectFailed"/> and the
    /// exception carries too.
    /// </summary>
    private static string DescribeConnectFailure(Exception ex, bool clientCreated, string errorId)
    {
        if (ex is ConnectTimeoutException)
        {
            return ex.Message;
        }

        string reason = clientCreated ? "connect failed" : "creating the client failed";
        return TenantErrorReference.Describe(ex is TenantConnectException ? reason + ": " + ex.Message : reason, errorId, MultiTenantEventIds.ConnectFailed);
    }

    /// <summary>The supervisor's own connect timeout: its message is ours, so it may appear in a status.</summary>
    private sealed class ConnectTimeoutException(string message) : TimeoutException(message);

    private readonly record struct ConnectionLoss(string Reason, TenantFatalReason? Fatal);

    /// <summary>One run's receiver of the client's connection reports.</summary>
    private sealed class RunReports : ITenantConnectionSink
    {
        private TaskCompletionSource<ConnectionLoss>? _currentLoss;
        private DelayScheduler.Entry? _healthWait;
        private volatile bool _closed;

        // Kept for the whole run, so a fatal report during a connect attempt or a backoff is not forgotten.
        public TaskCompletionSource<ConnectionLoss> Fatal { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // The current connection attempt's drop signal.
        public TaskCompletionSource<ConnectionLoss>? CurrentLoss
        {
            get => Volatile.Read(ref _currentLoss);
            set => Volatile.Write(ref _currentLoss, value);
        }

        /// <summary>
        /// Publishes the pending health-check wait, which a loss report interrupts. The exchange is a full fence: either the report
        /// sees the wait, or the monitor, reading the loss signal after publishing, sees the report.
        /// </summary>
        public void SetHealthWait(DelayScheduler.Entry? wait) => Interlocked.Exchange(ref _healthWait, wait);

        public void OnDisconnected(string? reason)
        {
            if (!_closed)
            {
                CurrentLoss?.TrySetResult(new ConnectionLoss(reason ?? "the client reported a lost connection", null));
                Volatile.Read(ref _healthWait)?.Interrupt();
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
            Volatile.Read(ref _healthWait)?.Interrupt();
        }

        public void Close()
        {
            _closed = true;
            CurrentLoss = null;
        }
    }
}
