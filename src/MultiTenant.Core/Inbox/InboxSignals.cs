using System.Collections.Concurrent;

namespace MultiTenant.Inbox;

/// <summary>
/// Per-key wake-up signals for waiting consumers: <see cref="WaitAsync"/> returns a task that <see cref="Signal"/> completes. A signal
/// with nobody waiting is dropped (waiters poll too). Thread-safe. Used by the inbox and outbox stores of every backend.
/// </summary>
/// <typeparam name="TKey">What is waited for (a tenant).</typeparam>
public sealed class InboxSignals<TKey>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, TaskCompletionSource> _waiters = new();

    /// <summary>Completes when <see cref="Signal"/> is called for <paramref name="key"/>, or is cancelled with <paramref name="cancellationToken"/>.</summary>
    public Task WaitAsync(TKey key, CancellationToken cancellationToken)
    {
        var waiter = _waiters.GetOrAdd(key, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        return waiter.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Wakes the waiters of <paramref name="key"/>.</summary>
    public void Signal(TKey key)
    {
        if (_waiters.TryRemove(key, out var waiter))
        {
            waiter.TrySetResult();
        }
    }

    /// <summary>Wakes every waiter (for example after a lost notification connection came back).</summary>
    public void SignalAll()
    {
        foreach (var key in _waiters.Keys)
        {
            Signal(key);
        }
    }
}

/// <summary>The signals of tenants' inboxes.</summary>
internal sealed class InboxSignals
{
    private readonly InboxSignals<TenantId> _signals = new();

    public Task WaitAsync(TenantId tenant, CancellationToken cancellationToken) => _signals.WaitAsync(tenant, cancellationToken);

    public void Signal(TenantId tenant) => _signals.Signal(tenant);
}
