namespace MultiTenant.Webhooks;

/// <summary>
/// Tells this host when a tenant's webhook subscription was created, replaced or deleted on any host, so that what a host remembers of
/// subscriptions (the outbound webhooks' cache of which tenants have one, <see cref="WebhookDeliveryOptions.SubscriptionCacheDuration"/>)
/// stays true. Implemented by the stores that ship: <see cref="InMemoryTenantWebhookStore"/> (the changes of this process) and the
/// PostgreSQL store (LISTEN/NOTIFY on the schema's channel, so every host of a fleet hears every change). A store of your own that does
/// not implement it leaves the cache off: every event then asks the store.
/// </summary>
public interface IWebhookSubscriptionChanges
{
    /// <summary>
    /// Registers <paramref name="onChanged"/>: called with the tenant whose subscription changed, or with <see langword="null"/> when
    /// changes may have been missed (a lost connection: whatever was remembered about any tenant must be read again). Called on any
    /// thread, after the change is committed; it must return quickly and never throw. Dispose the result to unregister.
    /// </summary>
    /// <param name="onChanged">The callback.</param>
    /// <returns>The registration.</returns>
    IDisposable Subscribe(Action<TenantId?> onChanged);
}

/// <summary>The callbacks registered with an <see cref="IWebhookSubscriptionChanges"/>: thread-safe, for the stores to share.</summary>
public sealed class WebhookSubscriptionChangeCallbacks : IWebhookSubscriptionChanges
{
    private readonly Lock _gate = new();
    private Action<TenantId?>[] _callbacks = [];

    /// <inheritdoc />
    public IDisposable Subscribe(Action<TenantId?> onChanged)
    {
        ArgumentNullException.ThrowIfNull(onChanged);
        lock (_gate)
        {
            _callbacks = [.. _callbacks, onChanged];
        }

        return new Registration(this, onChanged);
    }

    /// <summary>Calls every registered callback with <paramref name="tenant"/> (<see langword="null"/>: changes may have been missed).</summary>
    /// <param name="tenant">The tenant whose subscription changed.</param>
    public void Raise(TenantId? tenant)
    {
        foreach (var callback in Volatile.Read(ref _callbacks))
        {
            callback(tenant);
        }
    }

    private void Unsubscribe(Action<TenantId?> onChanged)
    {
        lock (_gate)
        {
            int index = Array.IndexOf(_callbacks, onChanged);
            if (index >= 0)
            {
                _callbacks = [.. _callbacks.AsSpan(0, index), .. _callbacks.AsSpan(index + 1)];
            }
        }
    }

    private sealed class Registration(WebhookSubscriptionChangeCallbacks owner, Action<TenantId?> onChanged) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Unsubscribe(onChanged);
            }
        }
    }
}
