using MultiTenant.AspNetCore.Diagnostics;

namespace MultiTenant.AspNetCore.Webhooks;

/// <summary>
/// The sender of one tenant's outbound webhooks on this host: sends the tenant's oldest pending event, then the next, and waits for the
/// due time of a failed one (or a wake-up) in between. Ends when the tenant has nothing pending or no longer runs here. One per tenant
/// (the dispatcher's map), so a tenant's events go out one at a time, in order.
/// </summary>
internal sealed class TenantWebhookLoop(TenantId tenant, WebhookDispatcher dispatcher)
{
    private static readonly TimeSpan StoreRetryDelay = TimeSpan.FromSeconds(1);

    // A lease id of its own: a later loop of the same tenant never completes an item this one claimed.
    private readonly Guid _senderId = Guid.NewGuid();
    private TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _woken;

    public TenantId Tenant => tenant;

    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>Asks the loop to look at the outbox again (new events). Called under the dispatcher's lock.</summary>
    public void Wake()
    {
        Volatile.Write(ref _woken, 1);
        Volatile.Read(ref _signal).TrySetResult();
    }

    /// <summary>Whether <see cref="Wake"/> was called since the last call; resets it.</summary>
    public bool ConsumeWake() => Interlocked.Exchange(ref _woken, 0) == 1;

    /// <summary>Runs until <paramref name="stop"/> (no new attempt starts); <paramref name="abort"/> cancels the attempt in flight.</summary>
    public void Start(CancellationToken stop, CancellationToken abort) => Completion = Task.Run(() => RunAsync(stop, abort), CancellationToken.None);

    private async Task RunAsync(CancellationToken stop, CancellationToken abort)
    {
        var time = dispatcher.Time;
        while (!stop.IsCancellationRequested)
        {
            // A fresh signal before looking: a wake-up during the look completes it, so the wait below returns at once.
            Volatile.Write(ref _signal, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            ConsumeWake();
            if (!dispatcher.Owns(tenant))
            {
                if (dispatcher.TryRetire(this))
                {
                    return;
                }

                continue;
            }

            TimeSpan wait;
            try
            {
                if (await dispatcher.Sender.SendNextAsync(tenant, _senderId, stop, abort).ConfigureAwait(false))
                {
                    continue;
                }

                var next = await dispatcher.Outbox.GetNextAttemptAsync(tenant, stop).ConfigureAwait(false);
                if (next is null)
                {
                    if (dispatcher.TryRetire(this))
                    {
                        return;
                    }

                    continue;
                }

                wait = next.Value - time.GetUtcNow();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.WebhookStoreFailed(dispatcher.Logger, tenant.Value, ex);
                wait = StoreRetryDelay;
            }

            if (wait > TimeSpan.Zero)
            {
                await WaitAsync(Volatile.Read(ref _signal).Task, wait, time, stop).ConfigureAwait(false);
            }
        }
    }

    private static async Task WaitAsync(Task woken, TimeSpan delay, TimeProvider time, CancellationToken stop)
    {
        try
        {
            await woken.WaitAsync(delay, time, stop).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Due.
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopping: the loop condition ends it.
        }
    }
}
