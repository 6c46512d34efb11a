namespace MultiTenant.Webhooks;

/// <summary>Retrying dead letters, and telling this process of subscription changes.</summary>
public sealed partial class InMemoryTenantWebhookStore
{
    /// <inheritdoc />
    public IDisposable Subscribe(Action<TenantId?> onChanged) => _changes.Subscribe(onChanged);

    /// <inheritdoc />
    public ValueTask<bool> RetryDeadAsync(TenantId tenant, long itemId, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        return ValueTask.FromResult(Retry(tenant, itemId) > 0);
    }

    /// <inheritdoc />
    public ValueTask<int> RetryAllDeadAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        return ValueTask.FromResult(Retry(tenant, itemId: null));
    }

    /// <summary>Queues <paramref name="tenant"/>'s dead letter <paramref name="itemId"/> (every one when <see langword="null"/>) anew.</summary>
    private int Retry(TenantId tenant, long? itemId)
    {
        var now = _time.GetUtcNow();
        int retried = 0;
        lock (_gate)
        {
            foreach (var item in Items(tenant))
            {
                if (item.State == ItemState.Dead && (itemId is null || item.Id == itemId))
                {
                    item.State = ItemState.Pending;
                    item.Attempts = 0;
                    item.CreatedAt = now;
                    item.NextAttemptAt = now;
                    retried++;
                }
            }
        }

        return retried;
    }
}
