using System.Threading.Channels;
using MultiTenant.Events;
using MultiTenant.Tests.Infrastructure;

namespace MultiTenant.Tests.Events;

public sealed class SingleReaderQueueTests
{
    [Theory]
    [InlineData(1, 4, 2_000)]
    [InlineData(8, 8, 1_000)]
    [InlineData(1024, 4, 5_000)]
    public async Task Many_producers_one_consumer_lose_nothing_duplicate_nothing_and_keep_each_producers_order(int capacity, int producers, int perProducer)
    {
        // A stress loop with a fixed seed: producers yield at seeded points, so the interleavings vary but every run is reproducible.
        var random = new Random(12);
        for (int round = 0; round < 5; round++)
        {
            var queue = new SingleReaderQueue<(int Producer, int Sequence)>(capacity, EventQueueFullMode.Wait, onDropped: null);
            var yields = Enumerable.Range(0, producers).Select(_ => random.Next(2, 50)).ToArray();
            var last = new int[producers];
            Array.Fill(last, -1);
            long received = 0;
            var consumer = Task.Run(async () =>
            {
                while (await queue.WaitToReadAsync())
                {
                    while (queue.TryRead(out var item))
                    {
                        Assert.Equal(last[item.Producer] + 1, item.Sequence); // in order, no gap, no duplicate
                        last[item.Producer] = item.Sequence;
                        received++;
                    }
                }
            });
            var writers = Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
            {
                for (int i = 0; i < perProducer; i++)
                {
                    await queue.WriteAsync((p, i), CancellationToken.None);
                    if (i % yields[p] == 0)
                    {
                        await Task.Yield();
                    }
                }
            })).ToArray();

            await Task.WhenAll(writers).WithTimeout();
            queue.Complete();
            await consumer.WithTimeout();

            Assert.Equal((long)producers * perProducer, received);
            Assert.All(last, l => Assert.Equal(perProducer - 1, l));
        }
    }

    [Fact]
    public async Task A_full_queue_makes_writers_wait_in_order_and_a_read_lets_the_first_in()
    {
        var queue = new SingleReaderQueue<int>(2, EventQueueFullMode.Wait, onDropped: null);
        await queue.WriteAsync(1, CancellationToken.None);
        await queue.WriteAsync(2, CancellationToken.None);
        var third = queue.WriteAsync(3, CancellationToken.None).AsTask();
        var fourth = queue.WriteAsync(4, CancellationToken.None).AsTask();
        Assert.False(third.IsCompleted);
        Assert.False(fourth.IsCompleted);
        Assert.Equal(2, queue.Count);

        Assert.True(queue.TryRead(out int first));
        await third.WithTimeout();
        Assert.False(fourth.IsCompleted);

        var read = new List<int> { first };
        while (read.Count < 4)
        {
            Assert.True(await queue.WaitToReadAsync().AsTask().WithTimeout());
            while (queue.TryRead(out int item))
            {
                read.Add(item);
            }
        }

        await fourth.WithTimeout();
        Assert.Equal([1, 2, 3, 4], read);
    }

    [Fact]
    public async Task A_waiting_writer_that_gives_up_leaves_no_item_and_keeps_the_others_in_line()
    {
        var queue = new SingleReaderQueue<int>(1, EventQueueFullMode.Wait, onDropped: null);
        await queue.WriteAsync(1, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var given = queue.WriteAsync(2, cts.Token).AsTask();
        var kept = queue.WriteAsync(3, CancellationToken.None).AsTask();

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => given.WithTimeout());
        Assert.True(queue.TryRead(out int a));
        await kept.WithTimeout();
        Assert.True(queue.TryRead(out int b));
        Assert.False(queue.TryRead(out _));
        Assert.Equal((1, 3), (a, b));
        Assert.True(queue.WriteAsync(4, cts.Token).IsCanceled); // a cancelled token fails at once
    }

    [Fact]
    public async Task Complete_fails_new_and_waiting_writes_and_the_reader_still_gets_every_item()
    {
        var queue = new SingleReaderQueue<int>(1, EventQueueFullMode.Wait, onDropped: null);
        await queue.WriteAsync(1, CancellationToken.None);
        var waiting = queue.WriteAsync(2, CancellationToken.None).AsTask();

        Assert.True(queue.Complete());
        Assert.False(queue.Complete());

        await Assert.ThrowsAsync<ChannelClosedException>(() => waiting.WithTimeout());
        await Assert.ThrowsAsync<ChannelClosedException>(() => queue.WriteAsync(3, CancellationToken.None).AsTask());
        Assert.True(await queue.WaitToReadAsync());
        Assert.True(queue.TryRead(out int item));
        Assert.Equal(1, item);
        Assert.False(await queue.WaitToReadAsync());
    }

    [Fact]
    public async Task A_waiting_reader_wakes_on_a_write_and_on_complete()
    {
        var queue = new SingleReaderQueue<int>(4, EventQueueFullMode.Wait, onDropped: null);
        var wait = queue.WaitToReadAsync().AsTask();
        Assert.False(wait.IsCompleted);
        await queue.WriteAsync(7, CancellationToken.None);
        Assert.True(await wait.WithTimeout());
        Assert.True(queue.TryRead(out _));

        wait = queue.WaitToReadAsync().AsTask();
        Assert.False(wait.IsCompleted);
        queue.Complete();
        await wait.WithTimeout(); // woken: "look again"
        Assert.False(await queue.WaitToReadAsync()); // completed and empty
    }

    [Theory]
    [InlineData(EventQueueFullMode.DropOldest, new[] { 3, 4 }, new[] { 1, 2 })]
    [InlineData(EventQueueFullMode.DropNewest, new[] { 1, 2 }, new[] { 3, 4 })]
    public async Task Lossy_policies_drop_and_report_the_right_items(EventQueueFullMode mode, int[] kept, int[] dropped)
    {
        var drops = new List<int>();
        var queue = new SingleReaderQueue<int>(2, mode, drops.Add);
        for (int i = 1; i <= 4; i++)
        {
            Assert.True(queue.WriteAsync(i, CancellationToken.None).IsCompletedSuccessfully);
        }

        var read = new List<int>();
        while (queue.TryRead(out int item))
        {
            read.Add(item);
        }

        Assert.Equal(kept, read);
        Assert.Equal(dropped, drops);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Under_DropOldest_concurrent_writers_and_the_reader_never_get_the_same_item_twice()
    {
        var random = new Random(7);
        long dropped = 0;
        var queue = new SingleReaderQueue<int>(16, EventQueueFullMode.DropOldest, _ => Interlocked.Increment(ref dropped));
        var seen = new HashSet<int>();
        var consumer = Task.Run(async () =>
        {
            while (await queue.WaitToReadAsync())
            {
                while (queue.TryRead(out int item))
                {
                    Assert.True(seen.Add(item), $"item {item} read twice");
                }
            }
        });
        int pause = random.Next(5, 20);
        var writers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                await queue.WriteAsync((p * 1_000_000) + i, CancellationToken.None);
                if (i % pause == 0)
                {
                    await Task.Yield();
                }
            }
        })).ToArray();
        await Task.WhenAll(writers).WithTimeout();
        queue.Complete();
        await consumer.WithTimeout();

        Assert.Equal(80_000, seen.Count + Interlocked.Read(ref dropped)); // every item either read once or dropped once
    }
}
