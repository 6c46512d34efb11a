using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Diagnostics;
using MultiTenant.Hosting;
using MultiTenant.Webhooks;

namespace MultiTenant.AspNetCore.Webhooks;

/// <summary>
/// Runs the outbound webhook senders of the tenants this host owns: one sender loop per tenant that has events waiting (started by
/// <see cref="Notify"/> or found by the poll of the outbox), which ends when the tenant's outbox is empty or the tenant no longer runs
/// here. Tenants never wait for each other: each loop sends its own tenant's events one at a time, in order, and the only thing loops
/// share is the per-endpoint limit of requests in flight (<see cref="WebhookDeliveryOptions.MaxConcurrentPerEndpoint"/>).
/// </summary>
internal sealed class WebhookDispatcher : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);
    private const int MaxTenantsPerPoll = 1000;

    private readonly ITenantWebhookOutbox _outbox;
    private readonly IServiceProvider _services;
    private ITenantOwnershipReader? _ownership;
    private readonly WebhookSender _sender;
    private readonly WebhookDeliveryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<TenantId, TenantWebhookLoop> _loops = [];
    private readonly CancellationTokenSource _stop = new();

    // Cancels the attempts in flight: only when the host's shutdown timeout runs out. A stop lets them finish (each is bounded by
    // WebhookDeliveryOptions.Timeout), so an event the receiver took is recorded as delivered and the next owner does not send it again.
    private readonly CancellationTokenSource _abort = new();
    private Task _poll = Task.CompletedTask;
    private DateTimeOffset _nextPurge;

    public WebhookDispatcher(
        ITenantWebhookOutbox outbox,
        IServiceProvider services,
        WebhookSender sender,
        IOptions<WebhookDeliveryOptions> options,
        TimeProvider time,
        ILogger<WebhookDispatcher>? logger = null)
    {
        _outbox = outbox;
        _services = services;
        _sender = sender;
        _options = options.Value;
        _time = time;
        _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _nextPurge = time.GetUtcNow() + PurgeInterval;
    }

    /// <summary>The senders running now (tests).</summary>
    internal int RunningLoops
    {
        get
        {
            lock (_gate)
            {
                return _loops.Count;
            }
        }
    }

    /// <summary>Wakes <paramref name="tenant"/>'s sender, starting it when it does not run. Never blocks; no I/O.</summary>
    public void Notify(TenantId tenant)
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        lock (_gate)
        {
            if (!_loops.TryGetValue(tenant, out var loop))
            {
                loop = new TenantWebhookLoop(tenant, this);
                _loops[tenant] = loop;
                loop.Wake();
                loop.Start(_stop.Token, _abort.Token);
                return;
            }

            loop.Wake();
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _poll = Task.Run(() => PollAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        Task[] running;
        lock (_gate)
        {
            running = [_poll, .. _loops.Values.Select(static l => l.Completion)];
        }

        using (cancellationToken.Register(static abort => ((CancellationTokenSource)abort!).Cancel(), _abort))
        {
            await Task.WhenAll(running).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await _abort.CancelAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        _stop.Dispose();
        _abort.Dispose();
    }

    internal ITenantWebhookOutbox Outbox => _outbox;

    internal WebhookSender Sender => _sender;

    internal TimeProvider Time => _time;

    internal ILogger Logger => _logger;

    // Resolved on first use: the coordinator (the ownership reader) depends on the event handlers, one of which depends on this.
    internal bool Owns(TenantId tenant) =>
        (_ownership ??= _services.GetRequiredService<ITenantOwnershipReader>()).TryGetOwnershipEpoch(tenant, out _);

    /// <summary>
    /// Called by a loop that found nothing to send: removes it unless it was woken since it last looked (then it looks again).
    /// </summary>
    internal bool TryRetire(TenantWebhookLoop loop)
    {
        lock (_gate)
        {
            if (loop.ConsumeWake())
            {
                return false;
            }

            _loops.Remove(loop.Tenant);
            return true;
        }
    }

    /// <summary>Finds due events of tenants without a running sender (retries, a restart, a tenant taken over), and purges.</summary>
    private async Task PollAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                foreach (var tenant in await _outbox.ListDueTenantsAsync(MaxTenantsPerPoll, stop).ConfigureAwait(false))
                {
                    if (Owns(tenant))
                    {
                        Notify(tenant);
                    }
                }

                var now = _time.GetUtcNow();
                if (now >= _nextPurge)
                {
                    _nextPurge = now + PurgeInterval;
                    await _outbox.PurgeAsync(now - _options.DeliveredRetention, stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.WebhookStoreFailed(_logger, "*", ex);
            }

            try
            {
                await Task.Delay(_options.PollInterval, _time, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }
}
