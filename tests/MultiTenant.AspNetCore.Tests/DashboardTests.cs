using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Dashboard;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Events;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>The dashboard (issue 13): paging and filtering, rendering, the event stream and the buttons' endpoints.</summary>
public sealed class DashboardTests
{
    private static readonly DashboardSession Session = new("admin", "token<1>", "RequestVerificationToken", "__RequestVerificationToken", SignedIn: true);

    private static readonly FakeTraffic NoTraffic = [];

    /// <summary>The traffic counters of this host's tenants, as the test sets them.</summary>
    private sealed class FakeTraffic : Dictionary<TenantId, TenantTraffic>, ITenantTrafficReader
    {
        public bool TryGetTraffic(TenantId tenant, out TenantTraffic traffic) => TryGetValue(tenant, out traffic);

        public TenantHostTraffic GetHostTraffic() =>
            new(default, Values.Sum(t => t.MessagesIn), Values.Sum(t => t.MessagesOut), Values.Sum(t => t.QueueDepth));
    }

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

        var page = DashboardQuery.Build(all, "t0", TenantState.Connected, page: 3, pageSize: 50, pairing: [], NoTraffic, "h1");

        // "t0" matches t00000..t09999 (10,000 ids... minus every tenth in error) = 9,000; page 3 starts at the 101st match.
        Assert.Equal(9_000, page.Matching);
        Assert.Equal(50, page.Tenants.Count);
        Assert.Equal("t00112", page.Tenants[0].BusinessId.Value);
        Assert.All(page.Tenants, s => Assert.Equal(TenantState.Connected, s.State));
        Assert.Equal(["h1", "h2"], page.Hosts.Select(h => h.Host));
        Assert.Equal(5_000, page.Hosts[0].Tenants);
        Assert.Equal(1_000, page.Hosts[0].Error);
        Assert.Equal(5_000, page.Hosts[1].Connected);

        var beyond = DashboardQuery.Build(all, null, null, page: 1_000, pageSize: 50, pairing: [], NoTraffic, "h1");
        Assert.Empty(beyond.Tenants);
        Assert.Equal(10_000, beyond.Matching);
    }

    [Fact]
    public void This_hosts_summary_sums_queue_depth_and_message_counts_of_its_tenants_and_each_row_shows_its_own_counts()
    {
        var all = new[] { Status("a1", TenantState.Connected), Status("a2", TenantState.Connected), Status("b1", TenantState.Connected, host: "h2") };
        var traffic = new FakeTraffic
        {
            [TenantId.Parse("a1")] = new TenantTraffic(MessagesIn: 7, MessagesOut: 2, QueueDepth: 3),
            [TenantId.Parse("a2")] = new TenantTraffic(MessagesIn: 5, MessagesOut: 0, QueueDepth: 1),
            [TenantId.Parse("b1")] = new TenantTraffic(MessagesIn: 100, MessagesOut: 100, QueueDepth: 100), // a stale run here: h2 owns it now
        };

        var model = DashboardQuery.Build(all, null, null, page: 1, pageSize: 50, pairing: [], traffic, "h1");

        var h1 = Assert.Single(model.Hosts, h => h.Host == "h1");
        Assert.Equal((4L, 12L, 2L), (h1.QueueDepth, h1.MessagesIn, h1.MessagesOut));
        var h2 = Assert.Single(model.Hosts, h => h.Host == "h2");
        Assert.Equal(((long?)null, (long?)null, (long?)null), (h2.QueueDepth, h2.MessagesIn, h2.MessagesOut)); // its counters live in its process
        var html = DashboardView.Render(model, "", Session);
        Assert.Contains("<td class=\"queue\">4</td><td class=\"in\">12</td><td class=\"out\">2</td>", html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"in\">7</td><td class=\"out\">2</td>", html, StringComparison.Ordinal);
        Assert.Contains("<tr data-host=\"h2\"><td>h2</td><td class=\"tenants\">1</td><td class=\"connected\">1</td><td class=\"error\">0</td><td class=\"queue\">–</td>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Rendering_encodes_every_tenant_value_and_shows_errors_pairing_and_paging_links()
    {
        var statuses = new[] { Status("a1", TenantState.Error, error: "<script>alert(1)</script>"), Status("a2", TenantState.Starting) };
        var pairing = new[] { new TenantPairingChallenge(TenantId.Parse("a2"), "2@qr<&>", null, TestApp.Now) };
        var model = DashboardQuery.Build(statuses, null, null, page: 1, pageSize: 1, pairing, NoTraffic, "h1");

        var html = DashboardView.Render(model, "/dash", Session);

        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert(1)", html, StringComparison.Ordinal);
        Assert.Contains("<tr data-id=\"a1\" class=\"error\">", html, StringComparison.Ordinal);
        Assert.DoesNotContain("data-id=\"a2\"", html, StringComparison.Ordinal); // page 2
        Assert.Contains("rel=\"next\"", html, StringComparison.Ordinal);
        Assert.Contains("data-base=\"/dash\"", html, StringComparison.Ordinal);

        var second = DashboardView.Render(DashboardQuery.Build(statuses, null, null, page: 2, pageSize: 1, pairing, NoTraffic, "h1"), "", Session);
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
        Assert.Contains("new EventSource(base + '/events'", html, StringComparison.Ordinal);

        using var badFilter = await app.Http.GetAsync("/dashboard/?status=sleeping");
        await Responses.AssertProblemAsync(badFilter, 400);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/events");
        using var stream = await app.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal(": live", await reader.ReadLineAsync().WithTimeout());
        Assert.Equal(string.Empty, await reader.ReadLineAsync().WithTimeout());
        Assert.Equal("event: traffic", await reader.ReadLineAsync().WithTimeout()); // at once, then every 2 s of the test's clock
        Assert.StartsWith("""data: {"host":"test-host","tenants":1,"connected":1,""", await reader.ReadLineAsync().WithTimeout(), StringComparison.Ordinal);
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
    public async Task The_traffic_event_carries_this_hosts_summary_and_the_message_counts_of_the_requested_rows_only_when_they_change()
    {
        await using var app = await TestApp.StartAsync(map: static a =>
        {
            a.MapTenantApi();
            a.MapTenantDashboard("/dashboard");
        });
        await app.StartConnectedAsync("tenant1");
        await app.StartConnectedAsync("tenant2");
        await app.Clients.Client("tenant1").Context.Events.DeliverAsync(new MessageEvent { MessageId = "in1", From = "15551234567", Text = "hi", Timestamp = app.Time.GetUtcNow() }).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        await app.Coordinator.SendMessageAsync(TenantId.Parse("tenant1"), new OutboundMessage("15551234567", "hello")).WithTimeout();

        var html = await app.Http.GetStringAsync("/dashboard/?q=tenant");
        Assert.Contains("<td class=\"queue\">0</td><td class=\"in\">1</td><td class=\"out\">1</td>", html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"in\">1</td><td class=\"out\">1</td><td class=\"pairing\">", html, StringComparison.Ordinal);

        // The rows asked for: tenant1 and an id nobody runs (absent); an invalid id is left out.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/events?ids=tenant1,ghost1,-bad");
        using var stream = await app.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal(": live", await reader.ReadLineAsync().WithTimeout());
        Assert.Equal(string.Empty, await reader.ReadLineAsync().WithTimeout());
        Assert.Equal("event: traffic", await reader.ReadLineAsync().WithTimeout());
        Assert.Equal(
            """data: {"host":"test-host","tenants":2,"connected":2,"error":0,"queue_depth":0,"messages_in":1,"messages_out":1,"rows":[{"business_id":"tenant1","messages_in":1,"messages_out":1}]}""",
            await reader.ReadLineAsync().WithTimeout());
        Assert.Equal(string.Empty, await reader.ReadLineAsync().WithTimeout());

        // Unchanged at the next tick: nothing is written; after another message the next tick carries the new counts.
        app.Time.Advance(DashboardTraffic.Interval);
        await app.Coordinator.SendMessageAsync(TenantId.Parse("tenant1"), new OutboundMessage("15551234567", "again")).WithTimeout();
        app.Time.Advance(DashboardTraffic.Interval);
        Assert.Equal("event: traffic", await reader.ReadLineAsync().WithTimeout());
        Assert.Equal(
            """data: {"host":"test-host","tenants":2,"connected":2,"error":0,"queue_depth":0,"messages_in":1,"messages_out":2,"rows":[{"business_id":"tenant1","messages_in":1,"messages_out":2}]}""",
            await reader.ReadLineAsync().WithTimeout());
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
