using System.Collections.Concurrent;
using MultiTenant.Events;

namespace MultiTenant.Tests.Infrastructure;

/// <summary>
/// An event handler that records what it sees per tenant, checks that a tenant's events never run concurrently, and lets a test
/// script its behaviour (<see cref="OnHandle"/>: block on a gate, throw) and await counts.
/// </summary>
internal sealed class RecordingHandler : ITenantEventHandler
{
    private readonly Lock _gate = new();
    private readonly Dictionary<TenantId, List<TenantEvent>> _events = [];
    private readonly List<(TenantId? Tenant, int Count, TaskCompletionSource Signal)> _waiters = [];
    private readonly ConcurrentDictionary<TenantId, int> _inFlight = new();
    private int _total;
    private int _overlaps;

    /// <summary>Runs before an event is recorded; may block or throw.</summary>
    public Func<TenantId, TenantEvent, CancellationToken, ValueTask>? OnHandle { get; set; }

    /// <summary>Whether only events of these types are recorded (others pass through untouched). Null records everything.</summary>
    public Type[]? Only { get; set; }

    /// <summary>How many times two events of one tenant were handled at the same time (must stay 0).</summary>
    public int Overlaps => Volatile.Read(ref _overlaps);

    public int Total => Volatile.Read(ref _total);

    public async ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
    {
        if (_inFlight.AddOrUpdate(tenant, 1, static (_, n) => n + 1) > 1)
        {
            Interlocked.Increment(ref _overlaps);
        }

        try
        {
            if (OnHandle is { } onHandle)
            {
                await onHandle(tenant, tenantEvent, cancellationToken);
            }

            if (Only is null || Array.IndexOf(Only, tenantEvent.GetType()) >= 0)
            {
                Record(tenant, tenantEvent);
            }
        }
        finally
        {
            _inFlight.AddOrUpdate(tenant, 0, static (_, n) => n - 1);
        }
    }

    public IReadOnlyList<TenantEvent> Events(TenantId tenant)
    {
        lock (_gate)
        {
            return _events.TryGetValue(tenant, out var list) ? [.. list] : [];
        }
    }

    /// <summary>Waits until <paramref name="count"/> events of <paramref name="tenant"/> were recorded.</summary>
    public Task WaitForCountAsync(TenantId tenant, int count) => WaitFor(tenant, count);

    /// <summary>Waits until <paramref name="count"/> events were recorded over all tenants.</summary>
    public Task WaitForTotalAsync(int count) => WaitFor(null, count);

    private Task WaitFor(TenantId? tenant, int count)
    {
        lock (_gate)
        {
            if (CountLocked(tenant) >= count)
            {
                return Task.CompletedTask;
            }

            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((tenant, count, signal));
            return signal.Task.WithTimeout();
        }
    }

    private void Record(TenantId tenant, TenantEvent tenantEvent)
    {
        lock (_gate)
        {
            if (!_events.TryGetValue(tenant, out var list))
            {
                _events[tenant] = list = [];
            }

            list.Add(tenantEvent);
            _total++;
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                var (t, count, signal) = _waiters[i];
                if (CountLocked(t) >= count)
                {
                    signal.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private int CountLocked(TenantId? tenant) =>
        tenant is { } t ? (_events.TryGetValue(t, out var list) ? list.Count : 0) : _total;
}

/// <summary>A message event carrying who wrote it and its sequence number, for order checks.</summary>
internal sealed class NumberedEvent : MessageEvent
{
    public int Writer { get; init; }

    public int Sequence { get; init; }
}
