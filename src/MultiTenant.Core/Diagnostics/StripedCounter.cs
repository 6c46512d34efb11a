using MultiTenant.Events;

namespace MultiTenant.Diagnostics;

/// <summary>
/// A sum that many threads add to without sharing one cache line: one padded cell per processor (up to 64), summed when read.
/// The queue-depth gauge reads it at collection time, so a scrape costs O(processors), not O(tenants) (issue 12: the gauge used to
/// walk every tenant's queue, 100,000 of them at scale).
/// </summary>
internal sealed class StripedCounter
{
    private readonly PaddedLong[] _cells;
    private readonly int _mask;

    public StripedCounter()
    {
        int cells = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Environment.ProcessorCount, 1, 64));
        _cells = new PaddedLong[cells];
        _mask = cells - 1;
    }

    /// <summary>Adds <paramref name="value"/> (negative to subtract) to the cell of the current processor.</summary>
    public void Add(long value) => Interlocked.Add(ref _cells[Thread.GetCurrentProcessorId() & _mask].Value, value);

    /// <summary>The sum of every cell: exact once the adders are quiet, a snapshot while they add.</summary>
    public long Sum()
    {
        long sum = 0;
        for (int i = 0; i < _cells.Length; i++)
        {
            sum += Volatile.Read(ref _cells[i].Value);
        }

        return sum;
    }
}
