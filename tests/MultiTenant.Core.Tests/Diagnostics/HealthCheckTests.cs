using Microsoft.Extensions.Diagnostics.HealthChecks;
using MultiTenant.Diagnostics;
using MultiTenant.Hosting;
using MultiTenant.Storage;
using MultiTenant.Tests.Infrastructure;
using NSubstitute;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Diagnostics;

public sealed class HealthCheckTests
{
    [Fact]
    public async Task Readiness_needs_one_connected_tenant_and_turns_false_when_the_host_stops()
    {
        await using var h = Create();
        var check = new TenantReadinessHealthCheck(h.Coordinator);

        var none = await check.CheckHealthAsync(Context(check));
        Assert.Equal(HealthStatus.Unhealthy, none.Status);
        Assert.Equal(0, none.Data["connected"]);

        await h.StartConnectedAsync(Id("a"));
        await h.StartAsync(Id("b"));
        var ready = await check.CheckHealthAsync(Context(check));
        Assert.Equal(HealthStatus.Healthy, ready.Status);
        Assert.Equal(2, ready.Data["total"]);
        Assert.Equal(1, ready.Data["connected"]);

        await h.StopHostAsync();
        var stopping = await check.CheckHealthAsync(Context(check));
        Assert.Equal(HealthStatus.Unhealthy, stopping.Status);
        Assert.Contains("shutting down", stopping.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_embedded_store_reports_itself_healthy_as_the_database()
    {
        var check = new StoreHealthCheck(new InMemoryTenantStore(new TestTimeProvider()));

        var result = await check.CheckHealthAsync(Context(check));

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Equal("embedded", result.Data["backend"]);
        Assert.Equal("0µs", result.Data["latency"]);
    }

    [Fact]
    public async Task A_store_that_throws_is_unhealthy_without_exception_text()
    {
        var store = Substitute.For<ITenantStoreHealth>();
        store.Backend.Returns("postgresql");
        store.CheckAsync(default).ReturnsForAnyArgs<ValueTask<StoreHealthReport>>(_ => throw new InvalidOperationException("password=secret at Npgsql..."));
        var check = new StoreHealthCheck(store);

        var result = await check.CheckHealthAsync(Context(check));

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Null(result.Exception);
        Assert.DoesNotContain("secret", result.Description, StringComparison.Ordinal);
        Assert.DoesNotContain(result.Data.Values, static v => v.ToString()!.Contains("secret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_store_reporting_a_problem_is_unhealthy_with_its_figures()
    {
        var store = Substitute.For<ITenantStoreHealth>();
        store.Backend.Returns("postgresql");
        store.CheckAsync(default).ReturnsForAnyArgs(new ValueTask<StoreHealthReport>(
            new StoreHealthReport(false, TimeSpan.FromMilliseconds(2.4), 5, 15, 20, "The pool is exhausted.")));
        var check = new StoreHealthCheck(store);

        var result = await check.CheckHealthAsync(Context(check));

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal("The pool is exhausted.", result.Description);
        Assert.Equal("2ms", result.Data["latency"]);
        Assert.Equal(5, result.Data["acquired"]);
        Assert.Equal(15, result.Data["idle"]);
        Assert.Equal(20, result.Data["max"]);
    }

    [Fact]
    public async Task Liveness_checks_nothing_but_the_process()
    {
        var check = new LivenessHealthCheck();

        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(Context(check))).Status);
    }

    private static HealthCheckContext Context(IHealthCheck check) =>
        new() { Registration = new HealthCheckRegistration("check", check, HealthStatus.Unhealthy, tags: null) };
}
