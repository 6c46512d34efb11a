using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Diagnostics;
using MultiTenant.Storage;
using NSubstitute;
using NSubstitute.ExceptionExtensions;

namespace MultiTenant.AspNetCore.Tests;

/// <summary><c>/health</c>, <c>/ready</c> and <c>/livez</c> (SPEC §4): exact JSON, status codes, no exception text.</summary>
public sealed class HealthEndpointTests
{
    private static ITenantStoreHealth Store(StoreHealthReport report)
    {
        var store = Substitute.For<ITenantStoreHealth>();
        store.Backend.Returns("postgresql");
        store.CheckAsync(Arg.Any<CancellationToken>()).Returns(report);
        store.PoolStatistics.Returns(new StorePoolStatistics(report.Acquired, report.Idle, report.Max));
        return store;
    }

    private static Task<TestApp> StartWithStoreAsync(ITenantStoreHealth store) =>
        TestApp.StartAsync(b => b.Services.AddSingleton(store));

    [Fact]
    public async Task Health_answers_200_with_exactly_the_spec_json()
    {
        await using var app = await StartWithStoreAsync(Store(new StoreHealthReport(true, TimeSpan.FromMilliseconds(2), 5, 15, 20)));

        using var response = await app.Http.GetAsync("/health");

        Assert.Equal(
            """{"status":"healthy","timestamp":"2025-01-07T10:00:05Z","components":{"database":{"status":"healthy","timestamp":"2025-01-07T10:00:05Z","details":{"backend":"postgresql","latency":"2ms","acquired":5,"idle":15,"max":20}},"liveness":{"status":"healthy","timestamp":"2025-01-07T10:00:05Z"}}}""",
            await Responses.AssertJsonAsync(response, 200));
        Assert.True(response.Headers.CacheControl?.NoStore ?? false);
    }

    [Fact]
    public async Task Health_of_the_embedded_store_reports_it_as_the_database()
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.Http.GetAsync("/health");

        string body = await Responses.AssertJsonAsync(response, 200);
        Assert.Contains("""
            "database":{"status":"healthy","timestamp":"2025-01-07T10:00:05Z","details":{"backend":"embedded","latency":"0µs","acquired":0,"idle":0,"max":0}}
            """.Trim(), body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_answers_503_when_the_store_is_unhealthy_without_its_problem_text()
    {
        var store = Store(new StoreHealthReport(false, TimeSpan.FromMilliseconds(1500), 20, 0, 20, "Connection refused by db.internal (password=hunter2)"));
        await using var app = await StartWithStoreAsync(store);

        using var response = await app.Http.GetAsync("/health");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(
            """{"status":"unhealthy","timestamp":"2025-01-07T10:00:05Z","components":{"database":{"status":"unhealthy","timestamp":"2025-01-07T10:00:05Z","details":{"backend":"postgresql","latency":"1500ms","acquired":20,"idle":0,"max":20}},"liveness":{"status":"healthy","timestamp":"2025-01-07T10:00:05Z"}}}""",
            await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Health_answers_503_when_the_store_throws_without_the_exception_text()
    {
        var store = Substitute.For<ITenantStoreHealth>();
        store.Backend.Returns("postgresql");
        store.CheckAsync(Arg.Any<CancellationToken>()).ThrowsAsync(new InvalidOperationException("Host=db;Password=hunter2 timed out"));
        await using var app = await StartWithStoreAsync(store);

        using var response = await app.Http.GetAsync("/health");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        string body = await response.Content.ReadAsStringAsync();
        Assert.StartsWith("""{"status":"unhealthy",""", body, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", body, StringComparison.Ordinal);
        Responses.AssertNoExceptionText(body);
    }

    [Fact]
    public async Task Health_is_200_and_degraded_when_a_component_is_degraded()
    {
        await using var app = await TestApp.StartAsync(b => b.Services.AddHealthChecks()
            .AddCheck("cache", () => HealthCheckResult.Degraded("slow", data: new Dictionary<string, object> { ["hit_ratio"] = 0.5 }), [TenantHealthChecks.HealthTag]));

        using var response = await app.Http.GetAsync("/health");

        string body = await Responses.AssertJsonAsync(response, 200);
        Assert.StartsWith("""{"status":"degraded",""", body, StringComparison.Ordinal);
        Assert.EndsWith(""","cache":{"status":"degraded","timestamp":"2025-01-07T10:00:05Z","details":{"hit_ratio":0.5}}}}""", body, StringComparison.Ordinal);
        Assert.DoesNotContain("slow", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ready_is_503_until_a_tenant_connects_then_200()
    {
        await using var app = await TestApp.StartAsync();

        using (var none = await app.Http.GetAsync("/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, none.StatusCode);
            Assert.Equal("""{"ready":false,"total":0,"connected":0}""", await none.Content.ReadAsStringAsync());
        }

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        app.Clients.For("tenant1").ConnectGate = gate;
        using var start = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""");
        using (var starting = await app.Http.GetAsync("/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, starting.StatusCode);
            Assert.Equal("""{"ready":false,"total":1,"connected":0}""", await starting.Content.ReadAsStringAsync());
        }

        gate.SetResult();
        await app.Events.WaitForConnectedAsync("tenant1");
        using var ready = await app.Http.GetAsync("/ready");
        Assert.Equal("""{"ready":true,"total":1,"connected":1}""", await Responses.AssertJsonAsync(ready, 200));
    }

    [Fact]
    public async Task Ready_counts_every_tenant_and_the_connected_ones()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        await app.StartConnectedAsync("tenant2");
        app.Clients.For("tenant3").ConnectGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var start = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant3"}""");

        using var ready = await app.Http.GetAsync("/ready");

        Assert.Equal("""{"ready":true,"total":3,"connected":2}""", await Responses.AssertJsonAsync(ready, 200));
    }

    [Fact]
    public async Task Livez_answers_200_without_checking_the_store()
    {
        var store = Substitute.For<ITenantStoreHealth>();
        store.CheckAsync(Arg.Any<CancellationToken>()).ThrowsAsync(new InvalidOperationException("down"));
        await using var app = await StartWithStoreAsync(store);

        using var response = await app.Http.GetAsync("/livez");

        Assert.Equal("""{"status":"healthy"}""", await Responses.AssertJsonAsync(response, 200));
        await store.DidNotReceive().CheckAsync(Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task The_paths_are_configurable()
    {
        await using var app = await TestApp.StartAsync(map: a => a.MapTenantHealthChecks(o =>
        {
            o.HealthPath = "/healthz";
            o.ReadyPath = "/readyz";
            o.LivenessPath = "/alive";
        }));

        using var health = await app.Http.GetAsync("/healthz");
        using var ready = await app.Http.GetAsync("/readyz");
        using var live = await app.Http.GetAsync("/alive");
        using var old = await app.Http.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, old.StatusCode);
    }

    [Theory]
    [InlineData("health")]
    [InlineData("")]
    public async Task An_invalid_path_fails_the_mapping(string path)
    {
        await using var app = await TestApp.StartAsync(map: static _ => { });

        var error = Assert.Throws<InvalidOperationException>(() => app.App.MapTenantHealthChecks(o => o.HealthPath = path));

        Assert.Contains("HealthPath", error.Message, StringComparison.Ordinal);
    }
}
