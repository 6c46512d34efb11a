using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Dashboard;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Clients;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>The dashboard (issue 13): paging and filtering, rendering, the event stream and the buttons' endpoints.</summary>
public sealed class DashboardTests
{
    private static readonly DashboardSession Session = new("admin", "token<1>", "RequestVerificationToken", "__RequestVerificationToken", SignedIn: true);

    private static TenantStatus Status(string id, TenantState state, string host = "h1", string? error = null) =>
        new(TenantId.Parse(id), state, TestApp.Now, TestApp.Now, error, host);

    [Fact]
    public void Paging_and_filter_over_10000_tenants_return_the_requested_page_the_match_count_and_exact_host_totals()
    {
        var all = new List<TenantStatus>(10_000);
        for (int i = 0; i < 10_000; i++)
        {
            all.Add(Status($"t{i:D5}", i % 10 == 0 ? TenantState.Error : TenantState.Connected, i % 2 == 0 ? "h1" : "h2"));
        }

        var page = DashboardQuery.Build(all, "t0", TenantState.Connected, page: 3, pageSize: 50, pairing: []);

        // "t0" matches t00000..t09999 (10,000 ids... minus every tenth in error) = 9,000; page 3 starts at the 101st match.
        Assert.Equal(9_000, page.Matching);
        Assert.Equal(50, page.Tenants.Count);
        Assert.Equal("t00112", page.Tenants[0].BusinessId.Value);
        Assert.All(page.Tenants, s => Assert.Equal(TenantState.Connected, s.State));
        Assert.Equal(["h1", "h2"], page.Hosts.Select(h => h.Host));
        Assert.Equal(5_000, page.Hosts[0].Tenants);
        Assert.Equal(1_000, page.Hosts[0].Error);
        Assert.Equal(5_000, page.Hosts[1].Connected);

        var beyond = DashboardQuery.Build(all, null, null, page: 1_000, pageSize: 50, pairing: []);
        Assert.Empty(beyond.Tenants);
        Assert.Equal(10_000, beyond.Matching);
    }

    [Fact]
    public void Rendering_encodes_every_tenant_value_and_shows_errors_pairing_and_paging_links()
    {
        var statuses = new[] { Status("a1", TenantState.Error, error: "<script>alert(1)</script>"), Status("a2", TenantState.Starting) };
        var pairing = new[] { new TenantPairingChallenge(TenantId.Parse("a2"), "2@qr<&>", null, TestApp.Now) };
        var model = DashboardQuery.Build(statuses, null, null, page: 1, pageSize: 1, pairing);

        var html = DashboardView.Render(model, "/dash", Session);

        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert(1)", html, StringComparison.Ordinal);
        Assert.Contains("<tr data-id=\"a1\" class=\"error\">", html, StringComparison.Ordinal);
        Assert.DoesNotContain("data-id=\"a2\"", html, StringComparison.Ordinal); // page 2
        Assert.Contains("rel=\"next\"", html, StringComparison.Ordinal);
        Assert.Contains("data-base=\"/dash\"", html, StringComparison.Ordinal);

        var second = DashboardView.Render(DashboardQuery.Build(statuses, null, null, page: 2, pageSize: 1, pairing), "", Session);
        Assert.Contains("<code class=\"qr\">2@qr&lt;&amp;&gt;</code>", second, StringComparison.Ordinal);
        Assert.Contains("rel=\"prev\"", second, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_page_lists_tenants_and_the_event_stream_carries_a_started_tenants_status_and_pairing_changes()
    {
        await using var app = await TestApp.StartAsync(map: static a =>
        {
            a.MapTenantApi();
            a.MapTenantDashboard("/dashboard");
        });
        await app.StartConnectedAsync("tenant1");

        var html = await app.Http.GetStringAsync("/dashboard/?q=tenant");
        Assert.Contains("<tr data-id=\"tenant1\" class=\"connected\">", html, StringComparison.Ordinal);
        Assert.Contains("new EventSource(base + '/events')", html, StringComparison.Ordinal);

        using var badFilter = await app.Http.GetAsync("/dashboard/?status=sleeping");
        await Responses.AssertProblemAsync(badFilter, 400);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/events");
        using var stream = await app.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal(": live", await reader.ReadLineAsync().WithTimeout());
        Assert.Equal(string.Empty, await reader.ReadLineAsync().WithTimeout());

        using var stop = await app.Http.PostAsync("/dashboard/tenants/tenant1/stop", null);
        Assert.Equal(HttpStatusCode.OK, stop.StatusCode);
        Assert.Equal("event: status", await reader.ReadLineAsync().WithTimeout());
        Assert.Equal("""data: {"business_id":"tenant1","status":"stopped","updated_at":"2025-01-07T10:00:05Z","host":"test-host"}""",
            await reader.ReadLineAsync().WithTimeout());
        Assert.Equal(string.Empty, await reader.ReadLineAsync().WithTimeout());

        app.App.Services.GetRequiredService<TenantPairingBoard>().Show(new TenantPairingChallenge(TenantId.Parse("tenant1"), "2@abc", null, TestApp.Now));
        Assert.Equal("event: pairing", await reader.ReadLineAsync().WithTimeout());
        Assert.Equal("""data: {"business_id":"tenant1","qr_code":"2@abc"}""", await reader.ReadLineAsync().WithTimeout());

        using var unknown = await app.Http.PostAsync("/dashboard/tenants/nobody/stop", null);
        await Responses.AssertProblemAsync(unknown, 404);
        using var badVerb = await app.Http.PostAsync("/dashboard/tenants/tenant1/explode", null);
        await Responses.AssertProblemAsync(badVerb, 404);
        using var badId = await app.Http.PostAsync("/dashboard/tenants/-x/start", null);
        await Responses.AssertProblemAsync(badId, 400);
        using var restart = await app.Http.PostAsync("/dashboard/tenants/tenant1/restart", null);
        Assert.Equal(HttpStatusCode.OK, restart.StatusCode);
    }

    [Fact]
    public async Task Every_dashboard_endpoint_needs_a_key_or_a_sign_in_and_an_anonymous_page_view_goes_to_the_sign_in_form()
    {
        await using var app = await TestApp.StartAsync(map: static a =>
        {
            a.MapTenantApi();
            a.MapTenantDashboard("/dashboard");
        });
        await app.StartConnectedAsync("tenant1");

        using var page = await app.Anonymous.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal("/dashboard/signin", page.Headers.Location?.OriginalString);
        using var events = await app.Anonymous.GetAsync("/dashboard/events");
        await Responses.AssertProblemAsync(events, 401);
        Assert.NotEmpty(events.Headers.WwwAuthenticate);
        using var stop = await app.Anonymous.PostAsync("/dashboard/tenants/tenant1/stop", null);
        await Responses.AssertProblemAsync(stop, 401);

        using var wrongKey = new HttpRequestMessage(HttpMethod.Post, "/dashboard/tenants/tenant1/stop");
        wrongKey.Headers.Add("X-Api-Key", "wt_not-a-key");
        using var refused = await app.Anonymous.SendAsync(wrongKey);
        await Responses.AssertProblemAsync(refused, 401);

        // Still running: none of the refused calls reached the coordinator.
        Assert.Equal(TenantState.Connected, (await app.Coordinator.GetStatusAsync(TenantId.Parse("tenant1")))!.State);
    }
}

internal static class DashboardTestTimeouts
{
    public static Task<T> WithTimeout<T>(this Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(30));
}
