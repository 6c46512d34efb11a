using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Clients;
using MultiTenant.Events;
using MultiTenant.Inbox;
using MultiTenant.Storage;
using Microsoft.Extensions.DependencyInjection;

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

/// <summary>Labels (<c>PUT /api/tenants/{id}</c>) and the purge (<c>DELETE /api/tenants/{id}?purge=true</c>) on the embedded stores.</summary>
public sealed class TenantLabelsAndPurgeTests
{
    private static Task<HttpResponseMessage> PutAsync(TestApp app, string tenant, string json, string contentType = "application/json") =>
        app.Http.PutAsync($"/api/tenants/{tenant}", TestApp.Body(json, contentType));

    [Fact]
    public async Task Bodies_with_strings_that_are_not_valid_UTF8_are_400_problems_for_labels_and_webhooks()
    {
        // Found by the fuzz test: Utf8JsonReader.GetString throws InvalidOperationException (not JsonException) on such text, a 500.
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        byte[] label = [.. "{\"env\":\""u8, 0xB0, .. "\"}"u8];
        byte[] webhook = [.. "{\"url\":\""u8, 0xED, .. "\"}"u8];
        foreach (var (path, body) in new[] { ("/api/tenants/tenant1", label), ("/api/tenants/tenant1/webhooks", webhook) })
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await app.Http.PutAsync(path, content);
            await Responses.AssertProblemAsync(response, 400);
        }
    }

    [Theory]
    [InlineData("/api/tenants/tenant1")]
    [InlineData("/api/tenants/tenant1/webhooks")]
    public async Task Labels_and_webhook_bodies_are_read_with_the_same_strictness_as_every_other_body(string path)
    {
        // One reader (StrictJsonBody) for every body: the same size, depth, media type and member rules.
        await using var app = await TestApp.StartAsync(b => b.Services.Configure<TenantApiOptions>(o => o.MaxRequestBodySize = 1024));
        await app.StartConnectedAsync("tenant1");
        string tooLarge = $$"""{"url":"https://example.com/{{new string('x', 1024)}}"}""";
        string deep = "{\"url\":" + new string('[', 20) + new string(']', 20) + "}";

        using (var large = await app.Http.PutAsync(path, TestApp.Body(tooLarge)))
        {
            Assert.Contains("1024", await Responses.AssertProblemAsync(large, 413), StringComparison.Ordinal);
        }

        using (var nested = await app.Http.PutAsync(path, TestApp.Body(deep)))
        {
            await Responses.AssertProblemAsync(nested, 400);
        }

        using (var twice = await app.Http.PutAsync(path, TestApp.Body("""{"url":"https://example.com/a","url":"https://example.com/b"}""")))
        {
            Assert.Contains("appears more than once", await Responses.AssertProblemAsync(twice, 400), StringComparison.Ordinal);
        }

        using (var empty = await app.Http.PutAsync(path, TestApp.Body("  ")))
        {
            Assert.Contains("empty", await Responses.AssertProblemAsync(empty, 400), StringComparison.Ordinal);
        }

        using var latin1 = await app.Http.PutAsync(path, TestApp.Body("{}", "application/json; charset=iso-8859-1"));
        await Responses.AssertProblemAsync(latin1, 415);
    }

    [Fact]
    public async Task Labels_are_stored_and_returned_with_the_status_and_an_empty_object_removes_them()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");

        using var put = await PutAsync(app, "tenant1", """{"team":"payments","env":"prod"}""");
        using (var json = JsonDocument.Parse(await Responses.AssertJsonAsync(put, 200)))
        {
            Assert.Equal("connected", json.RootElement.GetProperty("status").GetString());
            Assert.Equal("""{"env":"prod","team":"payments"}""", json.RootElement.GetProperty("labels").GetRawText());
        }

        using (var get = await app.Http.GetAsync("/api/tenants/tenant1"))
        {
            using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(get, 200));
            Assert.Equal("prod", json.RootElement.GetProperty("labels").GetProperty("env").GetString());
        }

        using var clear = await PutAsync(app, "tenant1", "{}");
        Assert.Equal(HttpStatusCode.OK, clear.StatusCode);
        using var after = await app.Http.GetAsync("/api/tenants/tenant1");
        using var cleared = JsonDocument.Parse(await Responses.AssertJsonAsync(after, 200));
        Assert.False(cleared.RootElement.TryGetProperty("labels", out _));
    }

    [Fact]
    public async Task The_list_returns_each_tenant_with_its_own_labels_and_none_for_a_tenant_without()
    {
        await using var app = await TestApp.StartAsync();
        foreach (string tenant in (string[])["tenant1", "tenant2", "tenant3"])
        {
            await app.StartConnectedAsync(tenant);
        }

        using (var one = await PutAsync(app, "tenant1", """{"env":"prod"}"""))
        using (var three = await PutAsync(app, "tenant3", """{"env":"dev","team":"ops"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, one.StatusCode);
            Assert.Equal(HttpStatusCode.OK, three.StatusCode);
        }

        using var list = await app.Http.GetAsync("/api/tenants");
        using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(list, 200));
        var rows = json.RootElement.EnumerateArray().ToDictionary(r => r.GetProperty("business_id").GetString()!);
        Assert.Equal("""{"env":"prod"}""", rows["tenant1"].GetProperty("labels").GetRawText());
        Assert.False(rows["tenant2"].TryGetProperty("labels", out _));
        Assert.Equal("""{"env":"dev","team":"ops"}""", rows["tenant3"].GetProperty("labels").GetRawText());
    }

    [Theory]
    [InlineData("""["a"]""", 400)]
    [InlineData("""{"env":1}""", 400)]
    [InlineData("""{"env":"a","env":"b"}""", 400)]
    [InlineData("""{"-bad":"a"}""", 400)]
    [InlineData("""{"env":"a"} {}""", 400)]
    [InlineData("""{"env":"a"}""", 400)]
    [InlineData("""{"env":"a""", 400)]
    [InlineData("""{"env":{"nested":"a"}}""", 400)]
    [InlineData("""{"env":null}""", 400)]
    [InlineData("""{"env":"a", /* comment */ "team":"b"}""", 400)]
    public async Task Labels_that_are_not_an_object_of_valid_strings_are_refused_with_a_readable_400(string body, int status)
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");

        using var put = await PutAsync(app, "tenant1", body);

        await Responses.AssertProblemAsync(put, status);
        var labels = await app.App.Services.GetRequiredService<ITenantLabelStore>().GetAsync(TenantId.Parse("tenant1"));
        Assert.Empty(labels);
    }

    [Fact]
    public async Task Label_limits_count_and_value_length_unknown_tenants_and_non_JSON_bodies_are_refused()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        string many = "{" + string.Join(",", Enumerable.Range(0, TenantLabels.MaxCount + 1).Select(i => $"\"k{i}\":\"v\"")) + "}";
        string exactly = "{" + string.Join(",", Enumerable.Range(0, TenantLabels.MaxCount).Select(i => $"\"k{i}\":\"v\"")) + "}";

        using (var tooMany = await PutAsync(app, "tenant1", many))
        {
            Assert.Contains("The body has at most 16 members", await Responses.AssertProblemAsync(tooMany, 400), StringComparison.Ordinal);
        }

        using (var ok = await PutAsync(app, "tenant1", exactly))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (var longValue = await PutAsync(app, "tenant1", $$"""{"k":"{{new string('v', TenantLabels.MaxValueLength + 1)}}"}"""))
        {
            await Responses.AssertProblemAsync(longValue, 400);
        }

        using (var longKey = await PutAsync(app, "tenant1", $$"""{"{{new string('k', TenantLabels.MaxKeyLength + 1)}}":"v"}"""))
        {
            await Responses.AssertProblemAsync(longKey, 400);
        }

        using (var unknown = await PutAsync(app, "nobody", """{"env":"prod"}"""))
        {
            await Responses.AssertProblemAsync(unknown, 404);
        }

        using var text = await PutAsync(app, "tenant1", "env=prod", "text/plain");
        await Responses.AssertProblemAsync(text, 415);
    }

    [Fact]
    public async Task Delete_with_purge_stops_the_tenant_and_erases_its_state_credentials_keys_labels_and_queued_items()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        await app.StartConnectedAsync("tenant2");
        var services = app.App.Services;
        var t1 = TenantId.Parse("tenant1");
        using var created = await app.Http.PostAsync("/api/tenants/tenant1/keys", null);
        using var key = JsonDocument.Parse(await Responses.AssertJsonAsync(created, 201));
        using var tenantClient = app.App.GetTestClientWithKey(key.RootElement.GetProperty("key").GetString()!);
        using (var put = await PutAsync(app, "tenant1", """{"env":"prod"}""")) { Assert.Equal(HttpStatusCode.OK, put.StatusCode); }
        await services.GetRequiredService<ITenantStateStoreProvider>().GetStore(t1).SetAsync("cloudapi", "credentials", new byte[] { 1 });
        var inbox = services.GetRequiredService<ITenantInbox>();
        await inbox.WriteAsync([new InboxWrite(t1, "m/1", "cloudapi", "message", new byte[] { 1 })]);
        Assert.Equal(HttpStatusCode.OK, (await tenantClient.GetAsync("/api/tenants/tenant1")).StatusCode);

        using var badPurge = await app.Http.DeleteAsync("/api/tenants/tenant1?purge=maybe");
        await Responses.AssertProblemAsync(badPurge, 400);
        using var purge = await app.Http.DeleteAsync("/api/tenants/tenant1?purge=true");

        using (var json = JsonDocument.Parse(await Responses.AssertJsonAsync(purge, 200)))
        {
            Assert.Equal("purged", json.RootElement.GetProperty("status").GetString());
        }

        Assert.Empty(await services.GetRequiredService<ITenantStateStoreProvider>().GetStore(t1).ListKeysAsync("cloudapi"));
        Assert.Empty(await services.GetRequiredService<ITenantLabelStore>().GetAsync(t1));
        Assert.Empty(await services.GetRequiredService<MultiTenant.Security.ITenantApiKeyStore>().ListAsync(t1));
        Assert.Equal(0, (await inbox.CountAsync(t1)).Pending);
        Assert.Null(await services.GetRequiredService<ITenantStatusStore>().GetAsync(t1, CancellationToken.None));
        Assert.DoesNotContain(t1, await services.GetRequiredService<ITenantRegistry>().ListDesiredRunningAsync(CancellationToken.None));
        using (var gone = await app.Http.GetAsync("/api/tenants/tenant1"))
        {
            await Responses.AssertProblemAsync(gone, 404); // nothing of it stays on this host either
        }

        using var revoked = await tenantClient.GetAsync("/api/tenants/tenant1");
        await Responses.AssertProblemAsync(revoked, 401); // its key is gone with it

        // The other tenant is untouched.
        Assert.Equal(TenantState.Connected, (await app.Coordinator.GetStatusAsync(TenantId.Parse("tenant2")))!.State);
        Assert.Contains(TenantId.Parse("tenant2"), await services.GetRequiredService<ITenantRegistry>().ListDesiredRunningAsync(CancellationToken.None));
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
