using MultiTenant.Events;

namespace MultiTenant.AspNetCore.Tests.Infrastructure;

/// <summary>An event handler that records every event and lets a test await a condition on them (no polling, no sleeping).</summary>
internal sealed class EventRecorder : ITenantEventHandler
{
    /// <summary>The safety timeout of every wait: generous, only hit when a test is broken.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private readonly List<(string Tenant, TenantEvent Event)> _events = [];
    private readonly List<(Func<IReadOnlyList<(string Tenant, TenantEvent Event)>, bool> Condition, TaskCompletionSource Done)> _waiters = [];

    public ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _events.Add((tenant.Value, tenantEvent));
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Condition(_events))
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public Task WaitAsync(Func<IReadOnlyList<(string Tenant, TenantEvent Event)>, bool> condition)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (condition(_events))
            {
                return Task.CompletedTask;
            }

            _waiters.Add((condition, done));
        }

        return done.Task.WaitAsync(Timeout);
    }

    /// <summary>Completes once <paramref name="tenant"/> has connected <paramref name="times"/> times (its status is then <c>connected</c>).</summary>
    public Task WaitForConnectedAsync(string tenant, int times = 1) => WaitForAsync<TenantConnectedEvent>(tenant, times);

    public Task WaitForAsync<TEvent>(string tenant, int times = 1)
        where TEvent : TenantEvent =>
        WaitAsync(events =>
        {
            int count = 0;
            foreach (var (t, e) in events)
            {
                if (t == tenant && e is TEvent)
                {
                    count++;
                }
            }

            return count >= times;
        });
}
