// Over 400 lines on purpose: one lock-free algorithm (slot sequence numbers, the waiting-writer line and the reader wake-up) whose
// invariants span every member; split it only with its concurrency tests (SingleReaderQueueTests) re-run under stress.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using System.Threading.Tasks.Sources;

namespace MultiTenant.Events;

/// <summary>
/// A bounded multi-producer, single-consumer FIFO queue: the tenant's event queue. Replaces a bounded <see cref="Channel{T}"/>,
/// whose one lock per write and per read was the contended hot spot when a client writes a burst while the reader drains it
/// (about 30% of the samples of a many-tenants profile, see benchmarks/README.md).
/// </summary>
/// <remarks>
/// <para>Lock-free on the path where the queue has room and the reader is busy: a writer claims a position with one compare-and-swap
/// on the tail and publishes its item with a per-slot sequence number (D. Vyukov's bounded queue); the single reader takes items
/// without any interlocked operation (except under <see cref="EventQueueFullMode.DropOldest"/>, where a writer may take the oldest
/// item too). A writer wakes the reader only when the reader said it is about to wait, through a flag both sides fence on
/// (Dekker's pattern); the wake-up queues the reader's continuation to the thread pool as a preallocated work item, so a write
/// allocates nothing and never runs the reader inline.</para>
/// <para>Bounded so that a tenant whose handlers fall behind cannot grow memory without limit. When full: <see cref="EventQueueFullMode.Wait"/>
/// (the default) makes the writer wait until the reader made room, so nothing is lost; the lossy policies drop (the oldest item, or
/// the new one) and report every drop. <see cref="Complete"/> closes the queue: writes throw <see cref="ChannelClosedException"/>
/// (the exception <see cref="ITenantEventWriter"/> documents), the reader gets every item written before, then the end.</para>
/// <para>Memory grows with use, like the channel's: slots live in chunks of 32 allocated on first use and kept (a tenant that never
/// queued more than 32 events holds one chunk), so an idle tenant stays small and a busy one allocates nothing per event.</para>
/// </remarks>
internal sealed class SingleReaderQueue<T>
{
    private const int ChunkShift = 5;
    private const int ChunkSize = 1 << ChunkShift;
    private const long ClosedBit = 1L << 62;

    private readonly int _capacity;
    private readonly long _size;
    private readonly long _mask;
    private readonly EventQueueFullMode _fullMode;
    private readonly Action<T>? _onDropped;
    private readonly ReaderSignal _readerSignal = new();
    private readonly Lock _writerGate = new();
    private readonly Slot[] _chunk0;
    private Slot[]?[]? _chunks;
    private Queue<WaitingWriter>? _waitingWriters;
    private PaddedLong _tail; // next position to claim; ClosedBit once completed. Written by writers (CAS) only.
    private PaddedLong _head; // next position to read. Written by the reader (and, under DropOldest, by writers through CAS).
    private int _readerWaiting;
    private int _writersWaiting;

    /// <param name="capacity">At most this many items are queued; 1 to 2^30.</param>
    /// <param name="fullMode">What a write does when the queue is full.</param>
    /// <param name="onDropped">Called with every item a lossy policy drops (on the writer's thread).</param>
    public SingleReaderQueue(int capacity, EventQueueFullMode fullMode, Action<T>? onDropped)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1 << 30);
        _capacity = capacity;
        _size = Math.Max(ChunkSize, (long)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity));
        _mask = _size - 1;
        _fullMode = fullMode;
        _onDropped = onDropped;
        _chunk0 = NewChunk(0);
    }

    /// <summary>Items queued (a snapshot).</summary>
    public int Count => (int)Math.Max(0, (Volatile.Read(ref _tail.Value) & ~ClosedBit) - Volatile.Read(ref _head.Value));

    /// <summary>Whether <see cref="Complete"/> was called.</summary>
    public bool IsCompleted => (Volatile.Read(ref _tail.Value) & ClosedBit) != 0;

    /// <summary>Queues <paramref name="item"/>; waits for room when full under <see cref="EventQueueFullMode.Wait"/>.</summary>
    /// <exception cref="ChannelClosedException">The queue was completed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the item was queued.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask WriteAsync(T item, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        // While writers wait for room, a new write queues behind them: waiting writers are served in order (as the channel's are).
        var result = Volatile.Read(ref _writersWaiting) == 0 ? TryWrite(item) : WriteResult.Full;
        return result == WriteResult.Written ? default : WriteSlowAsync(item, result, cancellationToken);
    }

    /// <summary>Takes the oldest item. Only the single reader calls it.</summary>
    public bool TryRead(out T item)
    {
        if (_fullMode == EventQueueFullMode.DropOldest)
        {
            return TryTake(out item);
        }

        long head = _head.Value;
        var chunk = ChunkOf(head);
        if (chunk is not null)
        {
            ref var slot = ref chunk[head & (ChunkSize - 1)];
            if (Volatile.Read(ref slot.Sequence) == head + 1)
            {
                item = slot.Item;
                slot.Item = default!;
                Volatile.Write(ref slot.Sequence, head + _size);
                Volatile.Write(ref _head.Value, head + 1);
                if (Volatile.Read(ref _writersWaiting) != 0)
                {
                    WakeWriters();
                }

                return true;
            }
        }

        item = default!;
        return false;
    }

    /// <summary>
    /// Completes with <see langword="true"/> when an item may be read, <see langword="false"/> when the queue was completed and every
    /// item was read. Only the single reader calls it, and never twice at once.
    /// </summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        var spinner = default(SpinWait);
        while (true)
        {
            long head = Volatile.Read(ref _head.Value);
            long tail = Volatile.Read(ref _tail.Value);
            if (head != (tail & ~ClosedBit))
            {
                if (IsPublished(head))
                {
                    return new ValueTask<bool>(true);
                }

                // A writer claimed the position and is about to publish it: a few instructions away.
                spinner.SpinOnce(sleep1Threshold: -1);
                continue;
            }

            if ((tail & ClosedBit) != 0)
            {
                return new ValueTask<bool>(false);
            }

            short token = _readerSignal.Reset();
            Interlocked.Exchange(ref _readerWaiting, 1); // a full fence: a writer that claims after this sees the flag
            tail = Volatile.Read(ref _tail.Value);
            if (Volatile.Read(ref _writersWaiting) != 0)
            {
                WakeWriters(); // the fence above makes a writer's late "waiting" visible here: it must not sleep with room free
            }

            if (head != (tail & ~ClosedBit) || (tail & ClosedBit) != 0)
            {
                if (Interlocked.Exchange(ref _readerWaiting, 0) == 1)
                {
                    continue; // withdrew the wait before any writer took it
                }

                // A writer took the flag and is waking us: wait for that wake-up (it is already on its way).
            }

            return new ValueTask<bool>(_readerSignal, token);
        }
    }

    /// <summary>Accepts no more items. The reader still gets every item written before. Returns false when already completed.</summary>
    public bool Complete()
    {
        long previous = Interlocked.Or(ref _tail.Value, ClosedBit);
        if ((previous & ClosedBit) != 0)
        {
            return false;
        }

        WakeReaderIfWaiting();
        WakeWriters();
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private WriteResult TryWrite(T item)
    {
        var spinner = default(SpinWait);
        while (true)
        {
            long tail = Volatile.Read(ref _tail.Value);
            if ((tail & ClosedBit) != 0)
            {
                return WriteResult.Closed;
            }

            if (tail - Volatile.Read(ref _head.Value) >= _capacity)
            {
                return WriteResult.Full;
            }

            var chunk = ChunkOf(tail) ?? AddChunk(tail);
            ref var slot = ref chunk[tail & (ChunkSize - 1)];
            long sequence = Volatile.Read(ref slot.Sequence);
            if (sequence != tail)
            {
                if (sequence < tail)
                {
                    // Under DropOldest a writer may have taken this slot's previous item and not yet freed it.
                    spinner.SpinOnce(sleep1Threshold: -1);
                }

                continue; // another writer claimed the position
            }

            if (Interlocked.CompareExchange(ref _tail.Value, tail + 1, tail) == tail)
            {
                slot.Item = item;
                Volatile.Write(ref slot.Sequence, tail + 1);
                if (Volatile.Read(ref _readerWaiting) != 0)
                {
                    WakeReaderIfWaiting();
                }

                return WriteResult.Written;
            }
        }
    }

    private async ValueTask WriteSlowAsync(T item, WriteResult result, CancellationToken cancellationToken)
    {
        while (true)
        {
            switch (result)
            {
                case WriteResult.Written:
                    return;
                case WriteResult.Closed:
                    throw new ChannelClosedException();
            }

            if (_fullMode == EventQueueFullMode.DropNewest)
            {
                _onDropped?.Invoke(item);
                return;
            }

            if (_fullMode == EventQueueFullMode.DropOldest)
            {
                if (TryTake(out var oldest))
                {
                    _onDropped?.Invoke(oldest);
                }

                result = TryWrite(item);
                continue;
            }

            // Wait for room, in order: the reader writes waiting writers' items for them, first come first served, as it makes room
            // (and fails them when the queue completes). Registered under the gate with the flag set first, then a last look.
            var waiter = new WaitingWriter(item);
            lock (_writerGate)
            {
                var waiting = _waitingWriters ??= new Queue<WaitingWriter>();
                Interlocked.Exchange(ref _writersWaiting, 1);
                if (waiting.Count == 0)
                {
                    result = TryWrite(item);
                    if (result != WriteResult.Full)
                    {
                        Volatile.Write(ref _writersWaiting, 0);
                        continue;
                    }
                }

                waiting.Enqueue(waiter);
            }

            using (cancellationToken.UnsafeRegister(static (s, token) => ((SingleReaderQueue<T>)((object[])s!)[0]).Withdraw((WaitingWriter)((object[])s!)[1], token), new object[] { this, waiter }))
            {
                await waiter.Task.ConfigureAwait(false);
            }

            return;
        }
    }

    private void Withdraw(WaitingWriter waiter, CancellationToken token)
    {
        lock (_writerGate)
        {
            if (_waitingWriters is { } waiting && waiting.Contains(waiter))
            {
                // Not written yet: take it out of the line, keeping the others' order.
                var rest = new Queue<WaitingWriter>(waiting.Count);
                foreach (var other in waiting)
                {
                    if (!ReferenceEquals(other, waiter))
                    {
                        rest.Enqueue(other);
                    }
                }

                _waitingWriters = rest;
                Volatile.Write(ref _writersWaiting, rest.Count == 0 ? 0 : 1);
                waiter.TrySetCanceled(token);
            }
        }
    }

    /// <summary>Takes the oldest item through a compare-and-swap on the head: the reader and dropping writers may race for it.</summary>
    private bool TryTake(out T item)
    {
        var spinner = default(SpinWait);
        while (true)
        {
            long head = Volatile.Read(ref _head.Value);
            var chunk = ChunkOf(head);
            if (chunk is null)
            {
                break;
            }

            ref var slot = ref chunk[head & (ChunkSize - 1)];
            long sequence = Volatile.Read(ref slot.Sequence);
            if (sequence != head + 1)
            {
                if (sequence < head + 1 && head != (Volatile.Read(ref _tail.Value) & ~ClosedBit))
                {
                    spinner.SpinOnce(sleep1Threshold: -1); // claimed, not yet published
                    continue;
                }

                if (sequence < head + 1)
                {
                    break; // empty
                }

                continue; // taken by another, the head moved on
            }

            if (Interlocked.CompareExchange(ref _head.Value, head + 1, head) == head)
            {
                item = slot.Item;
                slot.Item = default!;
                Volatile.Write(ref slot.Sequence, head + _size);
                if (Volatile.Read(ref _writersWaiting) != 0)
                {
                    WakeWriters();
                }

                return true;
            }
        }

        item = default!;
        return false;
    }

    private bool IsPublished(long position)
    {
        var chunk = ChunkOf(position);
        return chunk is not null && Volatile.Read(ref chunk[position & (ChunkSize - 1)].Sequence) == position + 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Slot[]? ChunkOf(long position)
    {
        long index = (position & _mask) >> ChunkShift;
        return index == 0 ? _chunk0 : Volatile.Read(ref _chunks)?[index] is { } chunk ? chunk : null;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private Slot[] AddChunk(long position)
    {
        // Chunks are created on first use (a position reaches a chunk for the first time in the first round, so its slots start at
        // their first-round positions) and kept: a tenant that once queued many events allocates nothing when it does it again.
        int index = (int)((position & _mask) >> ChunkShift);
        var chunks = Volatile.Read(ref _chunks);
        if (chunks is null)
        {
            var fresh = new Slot[]?[_size >> ChunkShift];
            fresh[0] = _chunk0;
            chunks = Interlocked.CompareExchange(ref _chunks, fresh, null) ?? fresh;
        }

        var chunk = Volatile.Read(ref chunks[index]);
        if (chunk is null)
        {
            var fresh = NewChunk((long)index << ChunkShift);
            chunk = Interlocked.CompareExchange(ref chunks[index], fresh, null) ?? fresh;
        }

        return chunk;
    }

    private static Slot[] NewChunk(long firstPosition)
    {
        var chunk = new Slot[ChunkSize];
        for (int i = 0; i < chunk.Length; i++)
        {
            chunk[i].Sequence = firstPosition + i;
        }

        return chunk;
    }

    private void WakeReaderIfWaiting()
    {
        if (Interlocked.Exchange(ref _readerWaiting, 0) == 1)
        {
            _readerSignal.Signal();
        }
    }

    private void WakeWriters()
    {
        lock (_writerGate)
        {
            var waiting = _waitingWriters;
            while (waiting is { Count: > 0 })
            {
                var writer = waiting.Peek();
                var result = TryWrite(writer.Item);
                if (result == WriteResult.Full)
                {
                    break;
                }

                waiting.Dequeue();
                if (result == WriteResult.Written)
                {
                    writer.TrySetResult();
                }
                else
                {
                    writer.TrySetException(new ChannelClosedException());
                }
            }

            Volatile.Write(ref _writersWaiting, waiting is { Count: > 0 } ? 1 : 0);
        }
    }

    /// <summary>A writer waiting for room, with its item; completed once the reader wrote the item for it.</summary>
    private sealed class WaitingWriter(T item) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public T Item { get; } = item;
    }

    private struct Slot
    {
        public T Item;
        public long Sequence; // == position: free for it; == position + 1: holds its item
    }

    private enum WriteResult
    {
        Written,
        Full,
        Closed,
    }

    /// <summary>
    /// The reader's reusable wait. Signalled by queueing itself to the thread pool (a preallocated work item, so a wake-up allocates
    /// nothing), where it completes the wait and runs the reader's continuation.
    /// </summary>
    private sealed class ReaderSignal : IValueTaskSource<bool>, IThreadPoolWorkItem
    {
        private ManualResetValueTaskSourceCore<bool> _core; // RunContinuationsAsynchronously = false: Execute is already on the pool

        public short Reset()
        {
            _core.Reset();
            return _core.Version;
        }

        public void Signal() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);

        void IThreadPoolWorkItem.Execute() => _core.SetResult(true);

        public bool GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}

/// <summary>A long alone on its cache line, so the writers' tail and the reader's head do not share one (not nested in the generic
/// queue: generic types cannot have an explicit layout).</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedLong
{
    [FieldOffset(64)]
    public long Value;
}
