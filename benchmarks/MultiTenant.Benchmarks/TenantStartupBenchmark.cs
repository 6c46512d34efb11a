using BenchmarkDotNet.Attributes;
using MultiTenant.Benchmarks.Infrastructure;
using MultiTenant.Clients;

namespace MultiTenant.Benchmarks;

/// <summary>
/// Scenario 4, control plane: <see cref="Tenants"/> tenants started until every one is connected (its status is
/// <see cref="TenantState.Connected"/> and its connected event went through its handlers), with an instant simulated client and the
/// embedded store. Mean is the time for all of them; target: at most 5 s for 10,000.
/// </summary>
/// <remarks>
/// <para>Each iteration starts on a fresh coordinator (built in [IterationSetup], not timed) and stops it afterwards
/// ([IterationCleanup], not timed). The starts go through <c>ITenantCoordinator.StartAsync</c>, the API's path, one after another; the
/// coordinator spreads the connects through its adaptive connect limit (ceiling <c>MaxConcurrentConnects</c>, default 1,000).</para>
/// <para>Baseline: the floor for "start N things that connect": N bare tasks, each calling the same instant client's
/// <c>ConnectAsync</c> and counting down.</para>
/// <para>Not here yet: renewing 10,000 leases from one host. It needs the PostgreSQL lease store, which does not exist yet.</para>
/// </remarks>
[BenchmarkCategory("4-control-plane")]
public class TenantStartupBenchmark
{
    private TenantId[] _tenants = [];
    private CoordinatorFixture? _fixture;

    [Params(10_000)]
    public int Tenants { get; set; }

    [GlobalSetup]
    public void Setup() => _tenants = Infrastructure.Tenants.Create(Tenants);

    // Both methods run once per iteration (an [IterationSetup] implies it), so they share a job and the Ratio column compares them.
    [IterationSetup(Target = nameof(Bare_tasks_start_until_connected))]
    public void NothingToSetUp()
    {
    }

    [IterationSetup(Target = nameof(Coordinator_start_until_connected))]
    public void StartCoordinator() => _fixture = CoordinatorFixture.StartAsync().GetAwaiter().GetResult();

    [IterationCleanup(Target = nameof(Coordinator_start_until_connected))]
    public void StopCoordinator()
    {
        _fixture?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _fixture = null;
    }

    [Benchmark(Baseline = true)]
    public async Task Bare_tasks_start_until_connected()
    {
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int remaining = Tenants;
        ITenantClient client = InstantClient.Instance;
        for (int i = 0; i < _tenants.Length; i++)
        {
            _ = Task.Run(async () =>
            {
                await client.ConnectAsync(CancellationToken.None);
                if (Interlocked.Decrement(ref remaining) == 0)
                {
                    all.TrySetResult();
                }
            });
        }

        await all.Task.WaitAsync(TimeSpan.FromMinutes(1));
    }

    [Benchmark]
    public Task Coordinator_start_until_connected() => _fixture!.StartAndWaitConnectedAsync(_tenants);
}
