using System.Globalization;
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using MultiTenant.Benchmarks.Infrastructure;
using MultiTenant.Events;
using MultiTenant.Hosting;

namespace MultiTenant.Benchmarks;

/// <summary>
/// Scenario 3, idle memory: managed bytes retained per idle tenant with <see cref="Tenants"/> tenants connected and idle. The
/// figure is the <b>Retained B/tenant</b> column; the time columns only say how long one measurement took and are not a target.
/// </summary>
/// <remarks>
/// <para>Each invocation: full GC and <c>GC.GetTotalMemory(true)</c>; bring up the tenants; wait until they are idle; full GC and
/// <c>GC.GetTotalMemory(true)</c> again; divide the difference by the tenant count; tear down. A tenant's loop runs on the thread
/// pool, so the allocation counter of the benchmark thread would miss it: the heap size after a full collection is what counts.</para>
/// <para>The library: a real coordinator on the embedded store. Per tenant that is the supervisor and its run loop (a pending health
/// check delay, a linked cancellation source, the connection-loss signal), the event queue (bounded channel and its parked reader
/// loop), the status (the supervisor's and the embedded store's copies), the desired-state entry, the per-tenant client state store
/// and the coordinator's map entry. The client is excluded: every tenant shares one stateless client.</para>
/// <para>Baseline: the least a channel-per-tenant design can hold, a bounded channel with the same options and a parked read loop
/// per tenant, after one event went through it (as the connected event goes through the library's).</para>
/// </remarks>
[BenchmarkCategory("3-idle-memory")]
public class IdleTenantMemoryBenchmark
{
    private TenantId[] _tenants = [];

    [Params(10_000)]
    public int Tenants { get; set; }

    [GlobalSetup]
    public void Setup() => _tenants = Infrastructure.Tenants.Create(Tenants);

    [Benchmark(Baseline = true)]
    public async Task Bare_channel_and_loop_per_tenant()
    {
        var options = new TenantCoordinatorOptions();
        var countdown = new Countdown(Tenants);
        var channels = new Channel<TenantEvent>[Tenants];
        var loops = new Task[Tenants];
        long before = HeapAfterFullCollection();
        for (int t = 0; t < Tenants; t++)
        {
            var channel = Channel.CreateBounded<TenantEvent>(new BoundedChannelOptions(options.EventQueueCapacity)
            {
                SingleReader = true,
                SingleWriter = false,
                AllowSynchronousContinuations = false,
                FullMode = BoundedChannelFullMode.Wait,
            });
            channels[t] = channel;
            loops[t] = Task.Run(() => ReadLoopAsync(channel.Reader, countdown));
            await channel.Writer.WriteAsync(new TenantConnectedEvent());
        }

        await countdown.All.WaitAsync(TimeSpan.FromMinutes(1));
        long after = HeapAfterFullCollection();
        Report(nameof(Bare_channel_and_loop_per_tenant), before, after);

        foreach (var channel in channels)
        {
            channel.Writer.TryComplete();
        }

        await Task.WhenAll(loops);
        GC.KeepAlive(channels);
    }

    [Benchmark]
    public async Task Coordinator_idle_tenants()
    {
        var fixture = await CoordinatorFixture.StartAsync();
        await using (fixture)
        {
            long before = HeapAfterFullCollection();
            await fixture.StartAndWaitConnectedAsync(_tenants);
            await fixture.WaitStatusesStoredAsync(_tenants);
            long after = HeapAfterFullCollection();
            Report(nameof(Coordinator_idle_tenants), before, after);
        }
    }

    private static long HeapAfterFullCollection()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private void Report(string method, long before, long after) =>
        ReportedMetrics.Report(
            ReportedMetrics.RetainedPerTenant, typeof(IdleTenantMemoryBenchmark), method, Tenants.ToString(CultureInfo.InvariantCulture), (double)(after - before) / Tenants);

    private static async Task ReadLoopAsync(ChannelReader<TenantEvent> reader, Countdown countdown)
    {
        while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            while (reader.TryRead(out _))
            {
                countdown.Signal();
            }
        }
    }

    private sealed class Countdown(int count)
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _remaining = count;

        public Task All => _all.Task;

        public void Signal()
        {
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                _all.TrySetResult();
            }
        }
    }
}
