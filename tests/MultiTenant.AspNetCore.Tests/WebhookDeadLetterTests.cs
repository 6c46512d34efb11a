using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Webhooks;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>
/// Outbound webhook dead letters through the API (<c>GET /api/tenants/{id}/webhooks/dead-letters</c>, retry one, retry all): listed
/// without bodies, queued again in their place in the tenant's order, counted on <c>whatsmeow.webhook.retries</c>, behind the tenant
/// scope; with a real Kestrel receiver on loopback.
/// </summary>
public sealed class WebhookDeadLetterTests
{
    private const string Secret = "0123456789abcdef-secret";
    private static readonly TenantId T1 = TenantId.Parse("t1");

    private static Task<TestApp> StartAsync() => TestApp.StartAsync(b => b.Services.Configure<WebhookDeliveryOptions>(o =>
    {
        o.AllowPrivateTargets = true;
        o.RetryBaseDelay = TimeSpan.FromSeconds(1);
        o.RetryMaxDelay = TimeSpan.FromSeconds(2);
        o.RetryPeriod = TimeSpan.FromSeconds(10);
        o.Timeout = TimeSpan.FromMinutes(5); // the test's clock runs ahead while an attempt is in flight: no time-out from that
    }));

    [Fact]
    public async Task A_dead_letter_is_listed_without_its_body_then_retried_and_delivered_once()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var app = await StartAsync();
        using var retries = new MetricCollector<long>(app.App.Services.GetRequiredService<IMeterFactory>(), TenantMetrics.MeterName, "whatsmeow.webhook.retries");
        await app.StartConnectedAsync("t1");
        await SubscribeAsync(app, receiver.Url);
        int failing = 1;
        receiver.Status = id => id == "message:m0" && Volatile.Read(ref failing) == 1 ? 500 : 200;
        var events = app.Clients.Client("t1").Context.Events;
        await events.DeliverAsync(Message(app, 0));
        await events.DeliverAsync(Message(app, 1));
        await receiver.WaitUntilAsync(() => receiver.Requests.Any(r => r.EventId == "message:m1"), () => app.Time.Advance(TimeSpan.FromSeconds(1)));

        string id;
        using (var list = await app.Http.GetAsync("/api/tenants/t1/webhooks/dead-letters"))
        {
            string body = await Responses.AssertJsonAsync(list, 200);
            Assert.DoesNotContain("hi 0", body, StringComparison.Ordinal); // no event body in the listing
            using var json = JsonDocument.Parse(body);
            var item = Assert.Single(json.RootElement.GetProperty("items").EnumerateArray().ToArray());
            id = item.GetProperty("id").GetString()!;
            Assert.Equal("message:m0", item.GetProperty("event_id").GetString());
            Assert.Equal("message", item.GetProperty("event_type").GetString());
            Assert.True(item.GetProperty("attempts").GetInt32() >= 1);
            Assert.Equal("The receiver answered HTTP 500.", item.GetProperty("last_error").GetString());
            Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("next_after").ValueKind);
        }

        foreach (string bad in new[] { "?limit=0", "?limit=1001", "?after=x", "?after=-1" })
        {
            using var response = await app.Http.GetAsync("/api/tenants/t1/webhooks/dead-letters" + bad);
            await Responses.AssertProblemAsync(response, 400);
        }

        using (var notNumber = await app.Http.PostAsync("/api/tenants/t1/webhooks/dead-letters/abc/retry", null))
        {
            await Responses.AssertProblemAsync(notNumber, 400);
        }

        using (var unknown = await app.Http.PostAsync("/api/tenants/t1/webhooks/dead-letters/987654/retry", null))
        {
            await Responses.AssertProblemAsync(unknown, 404);
        }

        Volatile.Write(ref failing, 0);
        using (var retry = await app.Http.PostAsync($"/api/tenants/t1/webhooks/dead-letters/{id}/retry", null))
        {
            Assert.Equal(HttpStatusCode.NoContent, retry.StatusCode);
        }

        var outbox = app.App.Services.GetRequiredService<ITenantWebhookOutbox>();
        await receiver.WaitUntilAsync(() => outbox.CountAsync(T1).AsTask().Result == new WebhookOutboxCounts(0, 2, 0), () => app.Time.Advance(TimeSpan.FromSeconds(1)));
        Assert.Equal(1, receiver.Requests.Count(r => r.EventId == "message:m0" && r.AnsweredStatus == 200));
        Assert.Equal(1, retries.GetMeasurementSnapshot().EvaluateAsCounter());

        using (var again = await app.Http.PostAsync($"/api/tenants/t1/webhooks/dead-letters/{id}/retry", null))
        {
            await Responses.AssertProblemAsync(again, 404); // delivered now: no longer a dead letter
        }
    }

    [Fact]
    public async Task Retry_all_queues_every_dead_letter_again_in_order_and_another_tenants_key_is_forbidden()
    {
        // Events left undelivered (the receiver refuses connections) become dead letters when the subscription is deleted.
        int port = WebhookReceiver.FreePort();
        await using var app = await StartAsync();
        using var retries = new MetricCollector<long>(app.App.Services.GetRequiredService<IMeterFactory>(), TenantMetrics.MeterName, "whatsmeow.webhook.retries");
        await app.StartConnectedAsync("t1");
        var url = new Uri($"http://127.0.0.1:{port}/hook");
        await SubscribeAsync(app, url);
        var events = app.Clients.Client("t1").Context.Events;
        for (int i = 0; i < 3; i++)
        {
            await events.DeliverAsync(Message(app, i));
        }

        using (var deleted = await app.Http.DeleteAsync("/api/tenants/t1/webhooks"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        var outbox = app.App.Services.GetRequiredService<ITenantWebhookOutbox>();
        Assert.Equal(new WebhookOutboxCounts(0, 0, 3), await outbox.CountAsync(T1));

        using (var page = await app.Http.GetAsync("/api/tenants/t1/webhooks/dead-letters?limit=2"))
        {
            using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(page, 200));
            var items = json.RootElement.GetProperty("items").EnumerateArray().ToArray();
            Assert.Equal(["message:m0", "message:m1"], items.Select(i => i.GetProperty("event_id").GetString()));
            Assert.Equal(WebhookSubscriptions.DeletedError, items[0].GetProperty("last_error").GetString());
            string next = json.RootElement.GetProperty("next_after").GetString()!;
            using var rest = await app.Http.GetAsync("/api/tenants/t1/webhooks/dead-letters?limit=2&after=" + next);
            using var restJson = JsonDocument.Parse(await Responses.AssertJsonAsync(rest, 200));
            Assert.Equal(["message:m2"], restJson.RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("event_id").GetString()));
        }

        // Another tenant's key sees none of it and retries nothing.
        using var created = await app.Http.PostAsync("/api/tenants/t2/keys", null);
        using var key = JsonDocument.Parse(await Responses.AssertJsonAsync(created, 201));
        using var other = app.App.GetTestClient();
        other.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.RootElement.GetProperty("key").GetString());
        using (var list = await other.GetAsync("/api/tenants/t1/webhooks/dead-letters"))
        {
            await Responses.AssertProblemAsync(list, 403);
        }

        using (var retryAll = await other.PostAsync("/api/tenants/t1/webhooks/dead-letters/retry", null))
        {
            await Responses.AssertProblemAsync(retryAll, 403);
        }

        using (var anonymous = await app.Anonymous.GetAsync("/api/tenants/t1/webhooks/dead-letters"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        // A receiver now, and the subscription again: retry-all sends the three, in their order.
        await using var receiver = await WebhookReceiver.StartAsync(port);
        await SubscribeAsync(app, url);
        using (var retried = await app.Http.PostAsync("/api/tenants/t1/webhooks/dead-letters/retry", null))
        {
            using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(retried, 200));
            Assert.Equal(3, json.RootElement.GetProperty("retried").GetInt32());
        }

        await receiver.WaitUntilAsync(() => receiver.Requests.Count(r => r.AnsweredStatus == 200) >= 3, () => app.Time.Advance(TimeSpan.FromSeconds(1)));
        Assert.Equal(["message:m0", "message:m1", "message:m2"], receiver.Requests.Select(r => r.EventId));
        Assert.Equal(3, retries.GetMeasurementSnapshot().EvaluateAsCounter());
        await receiver.WaitUntilAsync(() => outbox.CountAsync(T1).AsTask().Result == new WebhookOutboxCounts(0, 3, 0));
    }

    private static async Task SubscribeAsync(TestApp app, Uri url)
    {
        using var response = await app.Http.PutAsync("/api/tenants/t1/webhooks", TestApp.Body($$"""{"url":"{{url}}","event_types":["message"],"secret":"{{Secret}}"}"""));
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"PUT webhooks answered {response.StatusCode}");
    }

    private static MessageEvent Message(TestApp app, int i) =>
        new() { MessageId = $"m{i}", From = "15551234567", Text = $"hi {i}", Timestamp = app.Time.GetUtcNow() };
}
