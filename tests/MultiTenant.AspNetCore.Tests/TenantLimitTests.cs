using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Hosting;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>Bounded resources: MaxTenants, and requests for unknown ids that leave nothing behind.</summary>
public sealed class TenantLimitTests
{
    [Fact]
    public async Task Starting_beyond_MaxTenants_is_409_tenant_limit_reached_until_a_tenant_stops()
    {
        await using var app = await TestApp.StartAsync(b => b.Services.Configure<TenantCoordinatorOptions>(o => o.MaxTenants = 2));
        await app.StartConnectedAsync("t1");
        await app.StartConnectedAsync("t2");

        using (var third = await app.PostJsonAsync("/api/tenants", """{"business_id":"t3"}"""))
        {
            string detail = await Responses.AssertProblemAsync(third, 409);
            Assert.Contains("maximum of 2", detail, StringComparison.Ordinal);
            Assert.Equal("tenant_limit_reached", await Responses.ErrorCodeAsync(third));
        }

        // A running tenant is "already running", not over the limit.
        using (var again = await app.PostJsonAsync("/api/tenants", """{"business_id":"t1"}"""))
        {
            await Responses.AssertProblemAsync(again, 409);
            Assert.Null(await Responses.ErrorCodeAsync(again));
        }

        using (var stop = await app.Http.DeleteAsync("/api/tenants/t1"))
        {
            await Responses.AssertJsonAsync(stop, 200);
        }

        await app.StartConnectedAsync("t3");
        using var ghost = await app.Http.GetAsync("/api/tenants/t4");
        await Responses.AssertProblemAsync(ghost, 404);
    }

    [Fact]
    public async Task Without_MaxTenants_there_is_no_limit()
    {
        await using var app = await TestApp.StartAsync();
        for (int i = 0; i < 20; i++)
        {
            using var response = await app.PostJsonAsync("/api/tenants", $$"""{"business_id":"t{{i}}"}""");
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
    }

    [Fact]
    public async Task Requests_for_a_never_started_id_leave_no_tenant_behind()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("real");

        using (var get = await app.Http.GetAsync("/api/tenants/ghost"))
        {
            await Responses.AssertProblemAsync(get, 404);
        }

        using (var delete = await app.Http.DeleteAsync("/api/tenants/ghost"))
        {
            await Responses.AssertProblemAsync(delete, 404);
        }

        using (var send = await app.PostJsonAsync("/api/tenants/ghost/messages", """{"to":"15551234567","text":"hi"}"""))
        {
            await Responses.AssertProblemAsync(send, 404);
        }

        using (var keys = await app.Http.GetAsync("/api/tenants/ghost/keys"))
        {
            Assert.Equal("[]", await Responses.AssertJsonAsync(keys, 200));
        }

        // The coordinator's list merges every supervisor of this host: a supervisor or a status for "ghost" would show here.
        var statuses = await app.Coordinator.ListStatusesAsync();
        Assert.Equal(["real"], statuses.Select(s => s.BusinessId.Value));
        Assert.Null(await app.Coordinator.GetStatusAsync(TenantId.Parse("ghost")));
        using var list = await app.Http.GetAsync("/api/tenants");
        using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(list, 200));
        Assert.Equal(["real"], json.RootElement.EnumerateArray().Select(e => e.GetProperty("business_id").GetString()));
    }
}
