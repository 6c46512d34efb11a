using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Clients;
using MultiTenant.Events;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>The lifecycle endpoints (issue 13): restart and logout, through the real pipeline with the API key.</summary>
public sealed class TenantLifecycleTests
{
    private static async Task<string> StatusOfAsync(HttpResponseMessage response)
    {
        using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(response, 200));
        Assert.Equal("tenant1", json.RootElement.GetProperty("business_id").GetString());
        return json.RootElement.GetProperty("status").GetString()!;
    }

    [Fact]
    public async Task Restart_stops_a_running_tenant_and_connects_it_again_and_starts_a_stopped_one()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        var first = app.Clients.Client("tenant1");

        using var restart = await app.Http.PostAsync("/api/tenants/tenant1/restart", null);

        Assert.Contains(await StatusOfAsync(restart), new[] { "starting", "connected" });
        await app.Events.WaitForConnectedAsync("tenant1", times: 2);
        Assert.True(app.Clients.For("tenant1").DisconnectCalled.Task.IsCompleted);
        Assert.NotSame(first, app.Clients.Client("tenant1")); // a new run, with a new client

        using (var stop = await app.Http.DeleteAsync("/api/tenants/tenant1"))
        {
            Assert.Equal(HttpStatusCode.OK, stop.StatusCode);
        }

        using var again = await app.Http.PostAsync("/api/tenants/tenant1/restart", null);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        await app.Events.WaitForConnectedAsync("tenant1", times: 3);
    }

    [Theory]
    [InlineData("restart")]
    [InlineData("logout")]
    public async Task Lifecycle_calls_on_an_unknown_tenant_are_404_on_a_bad_id_400_and_without_a_key_401(string verb)
    {
        await using var app = await TestApp.StartAsync();

        using var unknown = await app.Http.PostAsync($"/api/tenants/nobody/{verb}", null);
        await Responses.AssertProblemAsync(unknown, 404);
        using var bad = await app.Http.PostAsync($"/api/tenants/-bad/{verb}", null);
        await Responses.AssertProblemAsync(bad, 400);
        using var anonymous = await app.Anonymous.PostAsync($"/api/tenants/tenant1/{verb}", null);
        await Responses.AssertProblemAsync(anonymous, 401);
    }

    [Fact]
    public async Task A_tenant_key_restarts_its_own_tenant_only()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        await app.StartConnectedAsync("tenant2");
        using var created = await app.Http.PostAsync("/api/tenants/tenant1/keys", null);
        using var key = JsonDocument.Parse(await Responses.AssertJsonAsync(created, 201));
        using var client = app.App.GetTestClientWithKey(key.RootElement.GetProperty("key").GetString()!);

        using var other = await client.PostAsync("/api/tenants/tenant2/restart", null);
        await Responses.AssertProblemAsync(other, 403);
        using var own = await client.PostAsync("/api/tenants/tenant1/restart", null);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Fact]
    public async Task Logout_of_a_client_without_the_capability_is_409_logout_not_supported_and_changes_nothing()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");

        using var logout = await app.Http.PostAsync("/api/tenants/tenant1/logout", null);

        await Responses.AssertProblemAsync(logout, 409);
        using var json = JsonDocument.Parse(await logout.Content.ReadAsStringAsync());
        Assert.Equal("logout_not_supported", json.RootElement.GetProperty("error_code").GetString());
        Assert.Equal(TenantState.Connected, (await app.Coordinator.GetStatusAsync(TenantId.Parse("tenant1")))!.State);
    }

    [Fact]
    public async Task Logout_asks_a_capable_client_to_log_out_and_the_tenant_goes_to_error_while_a_stopped_tenant_is_409_not_connected()
    {
        await using var app = await TestApp.StartAsync();
        app.Clients.For("tenant1").CanLogout = true;
        await app.StartConnectedAsync("tenant1");

        using var logout = await app.Http.PostAsync("/api/tenants/tenant1/logout", null);

        Assert.Equal(HttpStatusCode.OK, logout.StatusCode);
        Assert.Equal(1, ((LogoutTestClient)app.Clients.Client("tenant1")).Logouts);
        await app.Events.WaitForAsync<TenantFaultedEvent>("tenant1");
        var status = (await app.Coordinator.GetStatusAsync(TenantId.Parse("tenant1")))!;
        Assert.Equal(TenantState.Error, status.State);

        using (var stop = await app.Http.DeleteAsync("/api/tenants/tenant1"))
        {
            Assert.Equal(HttpStatusCode.OK, stop.StatusCode);
        }

        using var stopped = await app.Http.PostAsync("/api/tenants/tenant1/logout", null);
        await Responses.AssertProblemAsync(stopped, 409);
        using var json = JsonDocument.Parse(await stopped.Content.ReadAsStringAsync());
        Assert.Equal("not_connected", json.RootElement.GetProperty("error_code").GetString());
    }
}

internal static class TestClientWithKey
{
    public static HttpClient GetTestClientWithKey(this Microsoft.AspNetCore.Builder.WebApplication app, string key)
    {
        var client = app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }
}
