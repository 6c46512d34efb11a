using System.Threading.Channels;
using MultiTenant.Storage;

namespace MultiTenant.Tests.Infrastructure;

/// <summary>
/// A status store over an <see cref="InMemoryTenantStore"/> that records every batch, can fail or hold upserts, and lets a test await
/// what it stores.
/// </summary>
internal sealed class RecordingStatusStore(InMemoryTenantStore inner) : ITenantStatusStore
{
    private readonly Lock _gate = new();
    private readonly List<TenantStatus[]> _batches = [];
    private readonly List<(Func<RecordingStatusStore, bool> Done, TaskCompletionSource Signal)> _waiters = [];
    private readonly Channel<UpsertCall> _calls = Channel.CreateUnbounded<UpsertCall>();
    private int _failuresLeft;

    /// <summary>How many upserts fail (with an <see cref="IOException"/>) before they succeed again.</summary>
    public int FailuresLeft
    {
        get => Volatile.Read(ref _failuresLeft);
        set => Volatile.Write(ref _failuresLeft, value);
    }

    /// <summary>When set, each upsert waits for it before writing.</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>The batches written successfully.</summary>
    public IReadOnlyList<TenantStatus[]> Batches
    {
        get
        {
            lock (_gate)
            {
                return [.. _batches];
            }
        }
    }

    /// <summary>Waits for the next upsert call (successful or not), in call order.</summary>
    public Task<UpsertCall> NextCallAsync() => _calls.Reader.ReadAsync().AsTask().WithTimeout();

    public async ValueTask UpsertAsync(IReadOnlyCollection<TenantStatus> statuses, CancellationToken cancellationToken)
    {
        var batch = statuses.ToArray();
        bool fail = Interlocked.Decrement(ref _failuresLeft) >= 0;
        if (!fail)
        {
            Interlocked.Increment(ref _failuresLeft);
        }

        _calls.Writer.TryWrite(new UpsertCall(batch, fail));
        if (Gate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        if (fail)
        {
            throw new IOException("the status store is unavailable");
        }

        await inner.UpsertAsync(batch, cancellationToken);
        lock (_gate)
        {
            _batches.Add(batch);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Done(this))
                {
                    _waiters[i].Signal.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    public ValueTask<TenantStatus?> GetAsync(TenantId tenant, CancellationToken cancellationToken) => inner.GetAsync(tenant, cancellationToken);

    public ValueTask<IReadOnlyList<TenantStatus>> ListAsync(CancellationToken cancellationToken) => inner.ListAsync(cancellationToken);

    /// <summary>Waits until the stored status of <paramref name="tenant"/> is in <paramref name="state"/>.</summary>
    public Task WaitForStoredAsync(TenantId tenant, TenantState state) =>
        WaitFor(store => store.Stored(tenant)?.State == state);

    public TenantStatus? Stored(TenantId tenant) => inner.GetAsync(tenant, CancellationToken.None).AsTask().GetAwaiter().GetResult();

    private Task WaitFor(Func<RecordingStatusStore, bool> done)
    {
        lock (_gate)
        {
            if (done(this))
            {
                return Task.CompletedTask;
            }

            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((done, signal));
            return signal.Task.WithTimeout();
        }
    }

    /// <summary>One upsert call: what it was asked to write and whether it failed.</summary>
    internal sealed record UpsertCall(TenantStatus[] Statuses, bool Failed);
}
