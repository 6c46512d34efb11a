using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Diagnostics;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Clients;
using MultiTenant.Events;
using MultiTenant.Hosting;
using NSubstitute;
using NSubstitute.ExceptionExtensions;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>The tenant REST API (SPEC §3) through the real ASP.NET Core pipeline: every status code and the exact JSON shapes.</summary>
public sealed class TenantApiTests
{
    [Fact]
    public async Task Starting_a_tenant_answers_201_with_its_location_and_the_started_body()
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""");

        string body = await Responses.AssertJsonAsync(response, 201);
        Assert.Equal("""{"status":"started","business_id":"tenant1"}""", body);
        Assert.Equal("/api/tenants/tenant1", response.Headers.Location?.OriginalString);
        await app.Events.WaitForConnectedAsync("tenant1");
        Assert.Equal(TenantState.Connected, (await app.Coordinator.GetStatusAsync(TenantId.Parse("tenant1")))!.State);
    }

    [Fact]
    public async Task Starting_a_running_tenant_answers_409()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");

        using var response = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""");

        Assert.Equal("Tenant 'tenant1' is already running.", await Responses.AssertProblemAsync(response, 409));
    }

    [Fact]
    public async Task The_409_of_a_running_tenant_names_its_host_when_statuses_do()
    {
        await using var app = await TestApp.StartAsync(b => b.Services.Configure<TenantApiOptions>(o => o.IncludeHost = true));
        await app.StartConnectedAsync("tenant1");

        using var response = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""");

        Assert.Equal("Tenant 'tenant1' is already running on host 'test-host'.", await Responses.AssertProblemAsync(response, 409));
    }

    [Fact]
    public async Task Starting_a_tenant_still_connecting_answers_409()
    {
        await using var app = await TestApp.StartAsync();
        app.Clients.For("tenant1").ConnectGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var first = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);

        using var second = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""");

        await Responses.AssertProblemAsync(second, 409);
    }

    [Fact]
    public async Task A_tenant_in_error_can_be_started_again()
    {
        await using var app = await TestApp.StartAsync();
        app.Clients.For("tenant1").CreateFailure = new TenantFatalException(TenantFatalReason.NotPaired, "No paired device.");
        using var first = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        await app.Events.WaitForAsync<TenantFaultedEvent>("tenant1");
        app.Clients.For("tenant1").CreateFailure = null;

        using var second = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""");

        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        await app.Events.WaitForConnectedAsync("tenant1");
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/json;charset=UTF-8")]
    [InlineData("application/json; charset=\"utf-8\"")]
    [InlineData("Application/JSON")]
    [InlineData("application/vnd.tenant+json")]
    public async Task Json_content_types_with_or_without_a_utf8_charset_are_accepted(string contentType)
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""", contentType);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task A_body_with_a_utf8_byte_order_mark_and_whitespace_is_accepted()
    {
        await using var app = await TestApp.StartAsync();
        var content = new ByteArrayContent([0xEF, 0xBB, 0xBF, .. "\r\n  { \"business_id\" : \"tenant1\" }\n"u8.ToArray()]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await app.Http.PostAsync("/api/tenants", content);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task A_status_has_exactly_the_spec_members_and_omits_error_and_host()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");

        using var response = await app.Http.GetAsync("/api/tenants/tenant1");

        string body = await Responses.AssertJsonAsync(response, 200);
        Assert.Equal(
            """{"business_id":"tenant1","status":"connected","started_at":"2025-01-07T10:00:05Z","updated_at":"2025-01-07T10:00:05Z"}""",
            body);
    }

    [Fact]
    public async Task Timestamps_are_rfc3339_utc_with_whole_seconds()
    {
        await using var app = await TestApp.StartAsync();
        app.Time.Advance(TimeSpan.FromMilliseconds(1234.5));
        await app.StartConnectedAsync("tenant1");

        using var response = await app.Http.GetAsync("/api/tenants/tenant1");

        using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(response, 200));
        Assert.Equal("2025-01-07T10:00:06Z", json.RootElement.GetProperty("started_at").GetString());
        Assert.Equal("2025-01-07T10:00:06Z", json.RootElement.GetProperty("updated_at").GetString());
    }

    [Fact]
    public async Task A_status_in_error_carries_the_error()
    {
        await using var app = await TestApp.StartAsync();
        app.Clients.For("tenant1").CreateFailure = new TenantFatalException(TenantFatalReason.LoggedOut, "The device was logged out.");
        using var start = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""");
        await app.Events.WaitForAsync<TenantFaultedEvent>("tenant1");

        using var response = await app.Http.GetAsync("/api/tenants/tenant1");

        Assert.Equal(
            """{"business_id":"tenant1","status":"error","started_at":"2025-01-07T10:00:05Z","updated_at":"2025-01-07T10:00:05Z","error":"The device was logged out."}""",
            await Responses.AssertJsonAsync(response, 200));
    }

    [Fact]
    public async Task The_host_is_included_when_the_option_is_set()
    {
        await using var app = await TestApp.StartAsync(b => b.Services.Configure<TenantApiOptions>(o => o.IncludeHost = true));
        await app.StartConnectedAsync("tenant1");

        using var response = await app.Http.GetAsync("/api/tenants/tenant1");

        Assert.Equal(
            """{"business_id":"tenant1","status":"connected","started_at":"2025-01-07T10:00:05Z","updated_at":"2025-01-07T10:00:05Z","host":"test-host"}""",
            await Responses.AssertJsonAsync(response, 200));
    }

    [Fact]
    public async Task Listing_without_tenants_answers_an_empty_array()
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.Http.GetAsync("/api/tenants");

        Assert.Equal("[]", await Responses.AssertJsonAsync(response, 200));
    }

    [Fact]
    public async Task Listing_answers_every_status_in_ordinal_order()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("b-tenant");
        await app.StartConnectedAsync("A-tenant");
        await app.StartConnectedAsync("a-tenant");

        using var response = await app.Http.GetAsync("/api/tenants");

        using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(response, 200));
        Assert.Equal(JsonValueKind.Array, json.RootElement.ValueKind);
        Assert.Equal(
            new[] { "A-tenant", "a-tenant", "b-tenant" },
            json.RootElement.EnumerateArray().Select(e => e.GetProperty("business_id").GetString()!).ToArray());
        Assert.All(json.RootElement.EnumerateArray(), e => Assert.Equal("connected", e.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task Listing_pages_with_limit_and_after_links_the_next_page_and_filters_by_status()
    {
        await using var app = await TestApp.StartAsync();
        foreach (string id in new[] { "t1", "t2", "t3", "t4", "t5" })
        {
            await app.StartConnectedAsync(id);
        }

        await app.Coordinator.StopAsync(TenantId.Parse("t2"));

        var seen = new List<string>();
        string? next = "/api/tenants?limit=2";
        int pages = 0;
        while (next is not null)
        {
            using var response = await app.Http.GetAsync(next);
            using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(response, 200));
            seen.AddRange(json.RootElement.EnumerateArray().Select(e => e.GetProperty("business_id").GetString()!));
            next = response.Headers.TryGetValues("Link", out var links)
                ? System.Text.RegularExpressions.Regex.Match(Assert.Single(links), "^<(?<url>[^>]+)>; rel=\"next\"$").Groups["url"].Value
                : null;
            pages++;
        }

        Assert.Equal(["t1", "t2", "t3", "t4", "t5"], seen);
        Assert.Equal(3, pages);

        using var connected = await app.Http.GetAsync("/api/tenants?status=connected&limit=3");
        using var connectedJson = JsonDocument.Parse(await Responses.AssertJsonAsync(connected, 200));
        Assert.Equal(["t1", "t3", "t4"], connectedJson.RootElement.EnumerateArray().Select(e => e.GetProperty("business_id").GetString()!));
        Assert.Equal("</api/tenants?limit=3&after=t4&status=connected>; rel=\"next\"", Assert.Single(connected.Headers.GetValues("Link")));

        using var stopped = await app.Http.GetAsync("/api/tenants?status=stopped&after=t1");
        using var stoppedJson = JsonDocument.Parse(await Responses.AssertJsonAsync(stopped, 200));
        Assert.Equal("t2", Assert.Single(stoppedJson.RootElement.EnumerateArray()).GetProperty("business_id").GetString());
        Assert.False(stopped.Headers.Contains("Link"));
    }

    [Theory]
    [InlineData("limit=0", "limit must be a whole number from 1 to 10,000.")]
    [InlineData("limit=10001", "limit must be a whole number from 1 to 10,000.")]
    [InlineData("limit=-1", "limit must be a whole number from 1 to 10,000.")]
    [InlineData("limit=ten", "limit must be a whole number from 1 to 10,000.")]
    [InlineData("status=online", "Unknown status filter; use starting, connected, disconnected, error or stopped.")]
    public async Task Listing_with_a_bad_parameter_answers_400(string query, string detail)
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.Http.GetAsync("/api/tenants?" + query);

        Assert.Equal(detail, await Responses.AssertProblemAsync(response, 400));
    }

    [Fact]
    public async Task Listing_after_an_invalid_business_id_answers_400()
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.Http.GetAsync("/api/tenants?after=" + Uri.EscapeDataString("bad id/with space"));

        Assert.StartsWith("after: ", await Responses.AssertProblemAsync(response, 400), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Getting_an_unknown_tenant_answers_404()
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.Http.GetAsync("/api/tenants/nobody");

        string detail = await Responses.AssertProblemAsync(response, 404);
        Assert.Equal("Tenant 'nobody' is not known.", detail);
    }

    [Theory]
    [InlineData("-starts-with-dash")]
    [InlineData("has%20space")]
    [InlineData("has%0Anewline")]
    [InlineData("has%7Fdelete")]
    [InlineData("slash%2Finside")]
    [InlineData("%C3%A9t%C3%A9")]
    [InlineData("a2345678901234567890123456789012345678901234567890123456789012345")]
    // (A %00 in a path never reaches the endpoint: ASP.NET Core's URL decoder refuses it; NUL in bodies is tested in BadInputTests.)
    public async Task Getting_an_invalid_id_answers_400_with_the_reason(string escapedId)
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.Http.GetAsync("/api/tenants/" + escapedId);

        string detail = await Responses.AssertProblemAsync(response, 400);
        Assert.Contains("business id", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Getting_a_10000_character_id_answers_400_with_the_length_reason()
    {
        await using var app = await TestApp.StartAsync();
        string id = new('a', 10_000);

        using var response = await app.Http.GetAsync("/api/tenants/" + id);

        Assert.Equal(TenantId.Validate(id), await Responses.AssertProblemAsync(response, 400));
    }

    [Fact]
    public async Task Stopping_a_tenant_answers_200_and_its_status_becomes_stopped()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");

        using var response = await app.Http.DeleteAsync("/api/tenants/tenant1");

        Assert.Equal("""{"status":"stopped","business_id":"tenant1"}""", await Responses.AssertJsonAsync(response, 200));
        using var status = await app.Http.GetAsync("/api/tenants/tenant1");
        using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(status, 200));
        Assert.Equal("stopped", json.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Stopping_a_tenant_that_is_still_connecting_answers_200()
    {
        await using var app = await TestApp.StartAsync();
        app.Clients.For("tenant1").ConnectGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var start = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""");

        using var response = await app.Http.DeleteAsync("/api/tenants/tenant1");

        Assert.Equal("""{"status":"stopped","business_id":"tenant1"}""", await Responses.AssertJsonAsync(response, 200));
    }

    [Fact]
    public async Task Stopping_an_unknown_tenant_answers_404()
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.Http.DeleteAsync("/api/tenants/nobody");

        await Responses.AssertProblemAsync(response, 404);
    }

    [Fact]
    public async Task Stopping_an_invalid_id_answers_400()
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.Http.DeleteAsync("/api/tenants/bad%21id");

        await Responses.AssertProblemAsync(response, 400);
    }

    [Fact]
    public async Task A_stopped_tenant_can_be_started_again()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        using var stop = await app.Http.DeleteAsync("/api/tenants/tenant1");
        Assert.Equal(HttpStatusCode.OK, stop.StatusCode);

        using var start = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""");

        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        await app.Events.WaitForConnectedAsync("tenant1", times: 2);
    }

    [Fact]
    public async Task Sending_through_a_connected_tenant_answers_202_with_the_message_id()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");

        using var response = await app.PostJsonAsync("/api/tenants/tenant1/messages", """{"to":"15551234567","text":"hi"}""");

        Assert.Equal("""{"message_id":"msg-tenant1-1"}""", await Responses.AssertJsonAsync(response, 202));
        var sent = Assert.Single(app.Clients.Client("tenant1").Sent);
        Assert.Equal(new OutboundMessage("15551234567", "hi"), sent);
    }

    [Theory]
    [InlineData("15551234567@s.whatsapp.net")]
    [InlineData("120363025246125486@g.us")]
    [InlineData("1")]
    [InlineData("12345678901234567890123456789012")]
    public async Task Phone_numbers_and_jids_are_accepted_recipients(string to)
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");

        using var response = await app.PostJsonAsync("/api/tenants/tenant1/messages", $$"""{"to":"{{to}}","text":"multi\nline \u00e9 \ud83d\ude00"}""");

        await Responses.AssertJsonAsync(response, 202);
        Assert.Equal("multi\nline é 😀", Assert.Single(app.Clients.Client("tenant1").Sent).Text);
    }

    [Fact]
    public async Task Sending_through_an_unknown_tenant_answers_404()
    {
        await using var app = await TestApp.StartAsync();

        using var response = await app.PostJsonAsync("/api/tenants/nobody/messages", """{"to":"15551234567","text":"hi"}""");

        await Responses.AssertProblemAsync(response, 404);
    }

    [Fact]
    public async Task Sending_through_a_tenant_that_is_not_connected_answers_409()
    {
        await using var app = await TestApp.StartAsync();
        app.Clients.For("tenant1").ConnectGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var start = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant1"}""");

        using var response = await app.PostJsonAsync("/api/tenants/tenant1/messages", """{"to":"15551234567","text":"hi"}""");

        string detail = await Responses.AssertProblemAsync(response, 409);
        Assert.Contains("not connected", detail, StringComparison.Ordinal);
        Assert.Contains("starting", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sending_through_a_stopped_tenant_answers_409()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        using var stop = await app.Http.DeleteAsync("/api/tenants/tenant1");

        using var response = await app.PostJsonAsync("/api/tenants/tenant1/messages", """{"to":"15551234567","text":"hi"}""");

        await Responses.AssertProblemAsync(response, 409);
    }

    [Fact]
    public async Task A_send_the_backend_asks_to_retry_answers_429_with_retry_after()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        app.Clients.For("tenant1").SendFailure = new TenantSendException(
            "Rate limited by WhatsApp; retry later.", isTransient: true, errorCode: "rate-overlimit", retryAfter: TimeSpan.FromSeconds(2.5));

        using var response = await app.PostJsonAsync("/api/tenants/tenant1/messages", """{"to":"15551234567","text":"hi"}""");

        Assert.Equal("Rate limited by WhatsApp; retry later.", await Responses.AssertProblemAsync(response, 429));
        Assert.Equal(TimeSpan.FromSeconds(3), response.Headers.RetryAfter?.Delta);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("rate-overlimit", json.RootElement.GetProperty("error_code").GetString());
    }

    [Fact]
    public async Task A_relayed_send_the_owner_never_took_answers_a_retry_safe_503_with_retry_after()
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        app.Clients.For("tenant1").SendFailure = new TenantUnavailableException(TenantId.Parse("tenant1"), TimeSpan.FromSeconds(1.2));

        using var response = await app.PostJsonAsync("/api/tenants/tenant1/messages", """{"to":"15551234567","text":"hi"}""");

        string detail = await Responses.AssertProblemAsync(response, 503);
        Assert.Contains("may be retried", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("may or may not", detail, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(2), response.Headers.RetryAfter?.Delta);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("tenant_unavailable", json.RootElement.GetProperty("error_code").GetString());
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task A_send_the_backend_refuses_answers_502(bool transient, bool withRetryAfter)
    {
        await using var app = await TestApp.StartAsync();
        await app.StartConnectedAsync("tenant1");
        app.Clients.For("tenant1").SendFailure = new TenantSendException(
            "The recipient is not on WhatsApp.", transient, retryAfter: withRetryAfter ? TimeSpan.FromSeconds(1) : null);

        using var response = await app.PostJsonAsync("/api/tenants/tenant1/messages", """{"to":"15551234567","text":"hi"}""");

        Assert.Equal("The recipient is not on WhatsApp.", await Responses.AssertProblemAsync(response, 502));
        Assert.Null(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task Starting_while_the_host_shuts_down_answers_503_and_ready_turns_503()
    {
        var app = await TestApp.StartAsync();
        try
        {
            await app.StartConnectedAsync("tenant1");
            var behaviour = app.Clients.For("tenant1");
            behaviour.DisconnectGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

            // The shutdown stops the coordinator first (the server stops last) and waits on the client's disconnect.
            var stopping = app.App.StopAsync();
            await behaviour.DisconnectCalled.Task.WaitAsync(EventRecorder.Timeout);
            Assert.True(app.Coordinator.IsStopping);

            using var start = await app.PostJsonAsync("/api/tenants", """{"business_id":"tenant2"}""");
            string detail = await Responses.AssertProblemAsync(start, 503);
            Assert.Contains("shutting down", detail, StringComparison.Ordinal);

            using var ready = await app.Http.GetAsync("/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Equal("""{"ready":false,"total":1,"connected":1}""", await ready.Content.ReadAsStringAsync());

            using var live = await app.Http.GetAsync("/livez");
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);

            behaviour.DisconnectGate.SetResult();
            await stopping.WaitAsync(EventRecorder.Timeout);
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_unexpected_failure_answers_500_without_its_text_and_is_logged()
    {
        var coordinator = Substitute.For<ITenantCoordinator>();
        coordinator.ListStatusPageAsync(Arg.Any<TenantStatusQuery>(), Arg.Any<CancellationToken>())
            .Throws(new InvalidOperationException("Host=db;Password=hunter2 is unreachable"));
        await using var app = await TestApp.StartAsync(b => b.Services.AddSingleton(coordinator));

        using var response = await app.Http.GetAsync("/api/tenants");

        string detail = await Responses.AssertProblemAsync(response, 500);
        string body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("hunter2", body, StringComparison.Ordinal);
        Assert.DoesNotContain("InvalidOperation", body, StringComparison.Ordinal);
        Assert.Contains("trace id", detail, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(body);
        string traceId = json.RootElement.GetProperty("trace_id").GetString()!;
        var logged = Assert.Single(app.Logs.GetSnapshot(), r => r.Id.Id == TenantApiEventIds.UnhandledException);
        Assert.IsType<InvalidOperationException>(logged.Exception);
        Assert.Contains(traceId, logged.Message, StringComparison.Ordinal);

        using var after = await app.Http.GetAsync("/livez");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_request_the_client_abandons_is_not_logged_as_a_failure()
    {
        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var app = await TestApp.StartAsync(map: a =>
        {
            a.Use(async (context, next) =>
            {
                await next(context);
                handled.TrySetResult();
            });
            a.MapTenantApi();
        });
        await app.StartConnectedAsync("tenant1");
        var behaviour = app.Clients.For("tenant1");
        behaviour.DisconnectGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var abandon = new CancellationTokenSource();

        var stop = app.Http.DeleteAsync("/api/tenants/tenant1", abandon.Token);
        await behaviour.DisconnectCalled.Task.WaitAsync(EventRecorder.Timeout);
        await abandon.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stop);
        await handled.Task.WaitAsync(EventRecorder.Timeout);
        behaviour.DisconnectGate.SetResult();

        Assert.DoesNotContain(app.Logs.GetSnapshot(), r => r.Id.Id == TenantApiEventIds.UnhandledException);
    }

    [Fact]
    public async Task The_api_can_be_mapped_under_another_prefix()
    {
        await using var app = await TestApp.StartAsync(map: a => a.MapTenantApi("/v2/whatsapp/tenants"));

        using var response = await app.PostJsonAsync("/v2/whatsapp/tenants", """{"business_id":"tenant1"}""");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("/v2/whatsapp/tenants/tenant1", response.Headers.Location?.OriginalString);
        using var old = await app.Http.GetAsync("/api/tenants");
        Assert.Equal(HttpStatusCode.NotFound, old.StatusCode);
    }
}
