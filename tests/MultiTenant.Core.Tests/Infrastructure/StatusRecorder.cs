namespace MultiTenant.Tests.Infrastructure;

/// <summary>
/// Records every status the coordinator publishes (through its internal <c>StatusObserver</c>), in order per tenant, and lets a test
/// await a state instead of polling.
/// </summary>
internal sealed class StatusRecorder
{
    private readonly Lock _gate = new();
    private readonly Dictionary<TenantId, List<TenantStatus>> _history = [];
    private readonly List<Waiter> _waiters = [];

    /// <summary>Runs for every recorded status, on the publishing thread (under the tenant's lock): a place for invariant checks.</summary>
    public Action<TenantStatus>? OnRecorded { get; set; }

    public void Record(TenantStatus status)
    {
        lock (_gate)
        {
            if (!_history.TryGetValue(status.BusinessId, out var list))
            {
                _history[status.BusinessId] = list = [];
            }

            list.Add(status);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                var waiter = _waiters[i];
                if (waiter.Tenant == status.BusinessId && list.Count - 1 >= waiter.FromIndex && waiter.Match(status))
                {
                    waiter.Signal.TrySetResult(status);
                    _waiters.RemoveAt(i);
                }
            }
        }

        OnRecorded?.Invoke(status);
    }

    /// <summary>The statuses published for <paramref name="tenant"/>, oldest first.</summary>
    public IReadOnlyList<TenantStatus> History(TenantId tenant)
    {
        lock (_gate)
        {
            return _history.TryGetValue(tenant, out var list) ? [.. list] : [];
        }
    }

    /// <summary>The states published for <paramref name="tenant"/>, oldest first.</summary>
    public IReadOnlyList<TenantState> States(TenantId tenant) => History(tenant).Select(static s => s.State).ToList();

    /// <summary>How many statuses were published for <paramref name="tenant"/> (a mark for <see cref="WaitForAsync(TenantId, TenantState, int)"/>).</summary>
    public int Count(TenantId tenant)
    {
        lock (_gate)
        {
            return _history.TryGetValue(tenant, out var list) ? list.Count : 0;
        }
    }

    /// <summary>Waits until the last published status of <paramref name="tenant"/> is <paramref name="state"/> (returns at once if it is).</summary>
    public Task<TenantStatus> WaitForStateAsync(TenantId tenant, TenantState state)
    {
        lock (_gate)
        {
            if (_history.TryGetValue(tenant, out var list) && list.Count > 0 && list[^1].State == state)
            {
                return Task.FromResult(list[^1]);
            }

            return Add(tenant, s => s.State == state, fromIndex: 0);
        }
    }

    /// <summary>Waits for a status in <paramref name="state"/> published at or after position <paramref name="fromIndex"/> of the history.</summary>
    public Task<TenantStatus> WaitForAsync(TenantId tenant, TenantState state, int fromIndex)
    {
        lock (_gate)
        {
            if (_history.TryGetValue(tenant, out var list))
            {
                for (int i = fromIndex; i < list.Count; i++)
                {
                    if (list[i].State == state)
                    {
                        return Task.FromResult(list[i]);
                    }
                }
            }

            return Add(tenant, s => s.State == state, fromIndex);
        }
    }

    private Task<TenantStatus> Add(TenantId tenant, Func<TenantStatus, bool> match, int fromIndex)
    {
        var signal = new TaskCompletionSource<TenantStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters.Add(new Waiter(tenant, match, fromIndex, signal));
        return signal.Task.WithTimeout();
    }

    private sealed record Waiter(TenantId Tenant, Func<TenantStatus, bool> Match, int FromIndex, TaskCompletionSource<TenantStatus> Signal);
}
