using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MultiTenant.Scheduling;

namespace MultiTenant.Benchmarks;

/// <summary>
/// Scenario 5, idle timers (issue 12): what one connected, idle tenant's health-check wait costs, with <see cref="Tenants"/> tenants
/// waiting at once on <see cref="TimeProvider.System"/>. Per operation = per tenant and per health-check cycle.
/// </summary>
/// <remarks>
/// <para>Baseline (what the supervisor did before): one timer per tenant, <c>loss.Task.WaitAsync(interval, TimeProvider, stop)</c>,
/// whose timeout means "check now" (a <see cref="TimeoutException"/> per check). Ours: the coordinator's shared
/// <see cref="DelayScheduler"/> (one timer for all tenants): one entry per wait, completed when due, interrupted by the loss report
/// (as the supervisor's connection reports do).</para>
/// <para><b>Released</b>: every tenant arms its 10 s wait (all pending at once, as idle tenants are), then every connection is lost,
/// which releases the wait. <b>Due</b>: every tenant waits 1 ms, and the check comes due; the invocation ends when all did, so the
/// time includes that 1 ms once per invocation (spread over the tenants).</para>
/// </remarks>
[BenchmarkCategory("5-idle-timers")]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class IdleTimerBenchmark
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Due = TimeSpan.FromMilliseconds(1);
    private readonly CancellationTokenSource _stop = new();
    private DelayScheduler _scheduler = null!;

    [Params(10_000)]
    public int Tenants { get; set; }

    [GlobalSetup]
    public void Setup() => _scheduler = new DelayScheduler(TimeProvider.System, TimeSpan.FromMilliseconds(10));

    [GlobalCleanup]
    public void Cleanup()
    {
        _scheduler.Dispose();
        _stop.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = 10_000)]
    [BenchmarkCategory("released")]
    public async Task Per_tenant_timer_released()
    {
        var losses = new TaskCompletionSource[Tenants];
        var waits = new Task[Tenants];
        for (int i = 0; i < Tenants; i++)
        {
            losses[i] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            waits[i] = losses[i].Task.WaitAsync(Interval, TimeProvider.System, _stop.Token);
        }

        foreach (var loss in losses)
        {
            loss.TrySetResult();
        }

        await Task.WhenAll(waits);
    }

    [Benchmark(OperationsPerInvoke = 10_000)]
    [BenchmarkCategory("released")]
    public async Task Shared_scheduler_released()
    {
        var losses = new TaskCompletionSource[Tenants];
        var delays = new DelayScheduler.Delay[Tenants];
        var waits = new Task[Tenants];
        for (int i = 0; i < Tenants; i++)
        {
            losses[i] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            delays[i] = _scheduler.Start(Interval, _stop.Token);
            waits[i] = WaitSharedAsync(delays[i], losses[i].Task);
        }

        for (int i = 0; i < Tenants; i++)
        {
            losses[i].TrySetResult();
            delays[i].Interrupt(); // what the supervisor's connection reports do on a loss
        }

        await Task.WhenAll(waits);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = 10_000)]
    [BenchmarkCategory("due")]
    public async Task Per_tenant_timer_due()
    {
        var loss = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously); // never lost
        var waits = new Task[Tenants];
        for (int i = 0; i < Tenants; i++)
        {
            waits[i] = WaitPerTenantAsync(loss.Task);
        }

        await Task.WhenAll(waits);
    }

    [Benchmark(OperationsPerInvoke = 10_000)]
    [BenchmarkCategory("due")]
    public async Task Shared_scheduler_due()
    {
        var loss = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waits = new Task[Tenants];
        for (int i = 0; i < Tenants; i++)
        {
            waits[i] = WaitSharedAsync(_scheduler.Start(Due, _stop.Token), loss.Task);
        }

        await Task.WhenAll(waits);
    }

    private async Task WaitPerTenantAsync(Task loss)
    {
        // The supervisor's former wait: the timeout is the "check now" signal.
        var wait = loss.WaitAsync(Due, TimeProvider.System, _stop.Token);
        await wait.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _ = wait.Exception;
    }

    private static async Task WaitSharedAsync(DelayScheduler.Delay wait, Task loss)
    {
        // The supervisor's wait: the entry completes with true when the check is due, false when a loss interrupted it.
        if (!await wait.Task.ConfigureAwait(false))
        {
            await loss.ConfigureAwait(false);
        }
    }
}
