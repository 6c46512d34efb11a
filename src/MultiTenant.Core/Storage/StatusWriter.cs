using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using MultiTenant.Diagnostics;
using MultiTenant.Supervision;

namespace MultiTenant.Storage;

/// <summary>
/// Writes status changes to the <see cref="ITenantStatusStore"/> in the background, in batches, coalescing per tenant (latest wins).
/// A failed batch is retried with backoff and never lost; a newer status of the same tenant supersedes a pending one.
/// </summary>
/// <remarks>Status changes happen on transitions, not per event, and a batch is one store call however many tenants it covers.</remarks>
internal sealed class StatusWriter
{
    private readonly ConcurrentDictionary<TenantId, TenantStatus> _pending = new();
    private readonly ITenantStatusStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly SemaphoreSlim _flushGate = new(1, 1); // one flush at a time, so FlushAsync(tenant) can wait for one in flight
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private int _started;
    private int _pendingCount; // kept beside the map: ConcurrentDictionary.Count takes every lock of the map

    public StatusWriter(ITenantStatusStore store, TimeProvider timeProvider, ILogger logger)
    {
        _store = store;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>
    /// Called for each status once it is in the store (and no newer one of its tenant is pending), on the writer's loop or the caller
    /// of a flush. Must be quick and must not throw.
    /// </summary>
    public Action<TenantStatus>? Written { get; init; }

    /// <summary>Statuses not yet written.</summary>
    public int PendingCount => Volatile.Read(ref _pendingCount);

    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _loop = Task.Run(LoopAsync);
        }
    }

    public void Enqueue(TenantStatus status)
    {
        while (true)
        {
            if (_pending.TryGetValue(status.BusinessId, out var older))
            {
                if (_pending.TryUpdate(status.BusinessId, status, older))
                {
                    break;
                }
            }
            else if (_pending.TryAdd(status.BusinessId, status))
            {
                Interlocked.Increment(ref _pendingCount);
                break;
            }
        }

        Signal();
    }

    /// <summary>Writes what is pending (one last try) and ends the loop.</summary>
    public async Task StopAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!_pending.IsEmpty)
        {
            try
            {
                await FlushOnceAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.StatusWriteFailed(_logger, PendingCount, TimeSpan.Zero, ex);
            }
        }
    }

    private void Signal()
    {
        if (_signal.CurrentCount == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signalled.
            }
        }
    }

    private async Task LoopAsync()
    {
        var stop = _stop.Token;
        int failures = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await _signal.WaitAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            while (!_pending.IsEmpty && !stop.IsCancellationRequested)
            {
                try
                {
                    await FlushOnceAsync(stop).ConfigureAwait(false);
                    failures = 0;
                }
                catch (Exception ex) when (!stop.IsCancellationRequested)
                {
                    failures++;
                    var delay = ReconnectBackoff.GetCeiling(failures, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10));
                    Log.StatusWriteFailed(_logger, PendingCount, delay, ex);
                    try
                    {
                        await Task.Delay(delay, _timeProvider, stop).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Returns once no status of <paramref name="tenant"/> is pending or being written: a flush in flight finishes first, then what is
    /// still pending is written now. The purge calls it so that a stopped tenant's last status cannot land after its rows were erased.
    /// </summary>
    public async Task FlushAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        await _flushGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_pending.ContainsKey(tenant))
            {
                await FlushUnderGateAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _flushGate.Release();
        }
    }

    private async Task FlushOnceAsync(CancellationToken cancellationToken)
    {
        await _flushGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await FlushUnderGateAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _flushGate.Release();
        }
    }

    private async Task FlushUnderGateAsync(CancellationToken cancellationToken)
    {
        var batch = new List<TenantStatus>(PendingCount);
        foreach (var entry in _pending)
        {
            batch.Add(entry.Value);
        }

        await _store.UpsertAsync(batch, cancellationToken).ConfigureAwait(false);

        // Remove only what was written; a status that changed meanwhile stays pending.
        foreach (var status in batch)
        {
            if (_pending.TryRemove(new KeyValuePair<TenantId, TenantStatus>(status.BusinessId, status)))
            {
                Interlocked.Decrement(ref _pendingCount);
                Written?.Invoke(status);
            }
        }
    }
}
