using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Microsoft.Extensions.Time.Testing;
using MultiTenant.Benchmarks.Infrastructure;
using MultiTenant.Hosting;
using MultiTenant.Scheduling;
using MultiTenant.Scheduling.Testing;

namespace MultiTenant.Benchmarks;

/// <summary>
/// Scenario 6, connect storms (issue 12): the adaptive connect limiter against the fixed limit the coordinator had before
/// (a semaphore of <c>MaxConcurrentConnects</c> = 32). The figures are the columns <b>All connected (s)</b> and <b>Failed connects</b>.
/// </summary>
/// <remarks>
/// <para><b>storm</b>: 10,000 tenants ask to connect at once (a restart); a connect takes 0.2–1.5 s. Healthy backend: latency does not
/// depend on load. Overloaded backend: above 150 connects in flight every connect slows in proportion, above 450 it fails, and a
/// failed tenant asks again 1 s later. The storm runs on fake time (<c>ConnectStorm</c>, the simulation the limiter's tests use), so
/// the seconds are simulated and exact; the time columns say how much CPU simulating one storm took, limiter included.</para>
/// <para><b>acquire</b>: the cost of one uncontended acquire + release on <see cref="TimeProvider.System"/>, per connect.</para>
/// </remarks>
[BenchmarkCategory("6-connect-storm")]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class ConnectLimiterBenchmark
{
    private const int Tenants = 10_000;
    private const int Overloaded = 150;
    private static readonly TimeSpan GiveUp = TimeSpan.FromMinutes(10);
    private readonly SemaphoreSlim _semaphore = new(32, 32);
    private readonly AdaptiveConnectLimiter _limiter = new(TimeProvider.System, 1_000, 1_000_000);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("storm-healthy")]
    public void Fixed_32_healthy_backend() => Storm(nameof(Fixed_32_healthy_backend), null, int.MaxValue, fixedLimit: 32);

    [Benchmark]
    [BenchmarkCategory("storm-healthy")]
    public void Adaptive_defaults_healthy_backend() => Storm(nameof(Adaptive_defaults_healthy_backend), Defaults, int.MaxValue);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("storm-overloaded")]
    public void Fixed_32_overloaded_backend() => Storm(nameof(Fixed_32_overloaded_backend), null, Overloaded, fixedLimit: 32);

    [Benchmark]
    [BenchmarkCategory("storm-overloaded")]
    public void Fixed_1000_overloaded_backend() => Storm(nameof(Fixed_1000_overloaded_backend), null, Overloaded, fixedLimit: 1_000);

    [Benchmark]
    [BenchmarkCategory("storm-overloaded")]
    public void Adaptive_defaults_overloaded_backend() => Storm(nameof(Adaptive_defaults_overloaded_backend), Defaults, Overloaded);

    [Benchmark(Baseline = true, OperationsPerInvoke = 1_000)]
    [BenchmarkCategory("acquire")]
    public async Task Semaphore_acquire_release()
    {
        for (int i = 0; i < 1_000; i++)
        {
            await _semaphore.WaitAsync(CancellationToken.None);
            _semaphore.Release();
        }
    }

    [Benchmark(OperationsPerInvoke = 1_000)]
    [BenchmarkCategory("acquire")]
    public async Task Adaptive_acquire_release()
    {
        for (int i = 0; i < 1_000; i++)
        {
            long granted = await _limiter.AcquireAsync(CancellationToken.None);
            _limiter.Release(granted, ConnectOutcome.Succeeded);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _semaphore.Dispose();
        _limiter.Dispose();
    }

    private static AdaptiveConnectLimiter Defaults(TimeProvider time)
    {
        var options = new TenantCoordinatorOptions();
        return new AdaptiveConnectLimiter(time, options.MaxConcurrentConnects, options.MaxConnectsPerSecond);
    }

    private static void Storm(string method, Func<TimeProvider, AdaptiveConnectLimiter>? limiter, int capacity, int fixedLimit = 0)
    {
        var time = new FakeTimeProvider();
        using var adaptive = limiter?.Invoke(time);
        var result = ConnectStorm.Run(time, adaptive, Tenants, capacity, fixedLimit, giveUpAfter: GiveUp);
        string parameters = string.Empty;
        ReportedMetrics.Report(ReportedMetrics.AllConnectedAfter, typeof(ConnectLimiterBenchmark), method, parameters, result.AllConnectedAfter.TotalSeconds);
        ReportedMetrics.Report(ReportedMetrics.ConnectFailures, typeof(ConnectLimiterBenchmark), method, parameters, result.Failures);
    }
}
