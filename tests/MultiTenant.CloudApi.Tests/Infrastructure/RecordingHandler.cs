using MultiTenant.Events;

namespace MultiTenant.CloudApi.Tests.Infrastructure;

/// <summary>An event handler that records every event per tenant and lets tests await conditions on them (no polling, no sleeps).</summary>
public sealed class RecordingHandler : ITenantEventHandler
{
    private readonly Lock _gate = new();
    private readonly List<(TenantId Tenant, TenantEvent Event)> _events = [];
    private readonly List<(Func<IReadOnlyList<(TenantId Tenant, TenantEvent Event)>, bool> Condition, TaskCompletionSource Signal)> _waiters = [];

    public ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _events.Add((tenant, tenantEvent));
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Condition(_events))
                {
                    _waiters[i].Signal.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public IReadOnlyList<T> Of<T>(TenantId tenant)
        where T : TenantEvent
    {
        lock (_gate)
        {
            return _events.Where(e => e.Tenant == tenant).Select(e => e.Event).OfType<T>().ToList();
        }
    }

    public IReadOnlyList<TenantEvent> All(TenantId tenant)
    {
        lock (_gate)
        {
            return _events.Where(e => e.Tenant == tenant).Select(e => e.Event).ToList();
        }
    }

    public Task WaitForAsync(Func<IReadOnlyList<(TenantId Tenant, TenantEvent Event)>, bool> condition)
    {
        lock (_gate)
        {
            if (condition(_events))
            {
                return Task.CompletedTask;
            }

            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((condition, signal));
            return signal.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>Waits until <paramref name="tenant"/> has at least <paramref name="count"/> events of type <typeparamref name="T"/>.</summary>
    public Task WaitForAsync<T>(TenantId tenant, int count = 1)
        where T : TenantEvent =>
        WaitForAsync(events => events.Count(e => e.Tenant == tenant && e.Event is T) >= count);
}
