using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Secrets;
using MultiTenant.Tests.Shared;
using MultiTenant.Webhooks;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>Outbound webhooks end to end: the API, the outbox, the sender and a real Kestrel receiver on loopback.</summary>
public sealed class WebhookTests
{
    private const string Secret = "0123456789abcdef-secret";

    private static Task<TestApp> StartAsync(bool allowPrivateTargets = true) => TestApp.StartAsync(b => b.Services.Configure<WebhookDeliveryOptions>(o =>
    {
        o.AllowPrivateTargets = allowPrivateTargets;
        o.RetryBaseDelay = TimeSpan.FromSeconds(1);
        o.RetryMaxDelay = TimeSpan.FromSeconds(2);
        o.Timeout = TimeSpan.FromMinutes(5);
    }));

    [Fact]
    public async Task Put_creates_then_replaces_get_never_shows_the_secret_and_delete_removes_it()
    {
        await using var app = await StartAsync();
        using (var missing = await app.Http.GetAsync("/api/tenants/t1/webhooks"))
        {
            await Responses.AssertProblemAsync(missing, 404);
        }

        using (var created = await PutAsync(app.Http, "t1", """{"url":"https://hooks.example.com/a","event_types":["message"]}"""))
        {
            using var json = JsonDocument.Parse(await Responses.AssertJsonAsync(created, 201));
            string generated = json.RootElement.GetProperty("secret").GetString()!;
            Assert.StartsWith("whsec_", generated, StringComparison.Ordinal);
            Assert.Equal("t1", json.RootElement.GetProperty("business_id").GetString());
            Assert.Equal("https://hooks.example.com/a", json.RootElement.GetProperty("url").GetString());
            Assert.Equal(TestApp.NowText, json.RootElement.GetProperty("created_at").GetString());
            Assert.True(Guid.TryParse(json.RootElement.GetProperty("id").GetString(), out _));

            // Stored protected: the store holds ciphertext that only the protector opens.
            var stored = await app.App.Services.GetRequiredService<ITenantWebhookSubscriptionStore>().GetAsync(TenantId.Parse("t1"));
            Assert.DoesNotContain(generated, Encoding.UTF8.GetString(stored!.ProtectedSecret.Span), StringComparison.Ordinal);
            byte[] opened = app.App.Services.GetRequiredService<ITenantSecretProtector>()
                .Unprotect(TenantId.Parse("t1"), WebhookSubscriptions.SecretPurpose, stored.ProtectedSecret.ToArray());
            Assert.Equal(generated, Encoding.UTF8.GetString(opened));
        }

        using (var replaced = await PutAsync(app.Http, "t1", $$"""{"url":"https://hooks.example.com/b","event_types":["*"],"secret":"{{Secret}}"}"""))
        {
            string body = await Responses.AssertJsonAsync(replaced, 200);
            Assert.DoesNotContain("secret", body, StringComparison.Ordinal);
        }

        using (var read = await app.Http.GetAsync("/api/tenants/t1/webhooks"))
        {
            string body = await Responses.AssertJsonAsync(read, 200);
            Assert.DoesNotContain("secret", body, StringComparison.Ordinal);
            Assert.DoesNotContain(Secret, body, StringComparison.Ordinal);
            using var json = JsonDocument.Parse(body);
            Assert.Equal("https://hooks.example.com/b", json.RootElement.GetProperty("url").GetString());
            Assert.Equal(["*"], json.RootElement.GetProperty("event_types").EnumerateArray().Select(e => e.GetString()));
        }

        using (var deleted = await app.Http.DeleteAsync("/api/tenants/t1/webhooks"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        using (var again = await app.Http.DeleteAsync("/api/tenants/t1/webhooks"))
        {
            await Responses.AssertProblemAsync(again, 404);
        }
    }

    [Theory]
    [InlineData("""{"url":"http://127.0.0.1:9/x"}""", "loopback")]
    [InlineData("""{"url":"http://169.254.169.254/latest/meta-data/"}""", "link-local")]
    [InlineData("""{"url":"http://[::1]/x"}""", "loopback")]
    [InlineData("""{"url":"http://10.0.0.1/x"}""", "private")]
    [InlineData("""{"url":"http://localhost:8080/x"}""", "localhost")]
    [InlineData("""{"url":"ftp://example.com/x"}""", "http or https")]
    [InlineData("""{"url":"https://u:p@example.com/x"}""", "user name")]
    [InlineData("""{"url":"not a url"}""", "absolute")]
    [InlineData("""{"url":"https://example.com/x","event_types":["nope"]}""", "Unknown event type")]
    [InlineData("""{"url":"https://example.com/x","event_types":[]}""", "1 to 16")]
    [InlineData("""{"url":"https://example.com/x","secret":"short"}""", "16 to 256")]
    [InlineData("""{"url":"https://example.com/x","extra":1}""", "The member 'extra' is not accepted")]
    [InlineData("""{"url":"https://example.com/x","url":"https://example.com/y"}""", "'url' appears more than once")]
    [InlineData("""{"url":"https://example.com/x","event_types":["message",1]}""", "'event_types' must be an array of strings; item 2 is a number")]
    [InlineData("""{"url":"https://example.com/x","event_types":"message"}""", "'event_types' must be an array of strings; it is a string")]
    [InlineData("""{"url":["https://example.com/x"]}""", "'url' must be a string; it is an array")]
    [InlineData("""{"url":null}""", "'url' must be a string, not null")]
    [InlineData("""{"event_types":["*"]}""", "'url' is missing")]
    [InlineData("""[1]""", "must be a JSON object")]
    [InlineData("""{"url":""", "not valid JSON")]
    public async Task A_bad_subscription_is_refused_with_400_and_a_clear_detail(string body, string detail)
    {
        await using var app = await StartAsync(allowPrivateTargets: false);
        using var response = await PutAsync(app.Http, "t1", body);
        string problem = await Responses.AssertProblemAsync(response, 400);
        Assert.Contains(detail, problem, StringComparison.Ordinal);
        Assert.Null(await app.App.Services.GetRequiredService<ITenantWebhookSubscriptionStore>().GetAsync(TenantId.Parse("t1")));
    }

    [Fact]
    public async Task A_host_name_that_resolves_to_a_private_address_is_refused_at_put()
    {
        await using var app = await StartAsync(allowPrivateTargets: false);
        using var response = await PutAsync(app.Http, "t1", $$"""{"url":"http://{{Dns.GetHostName()}}:9/x"}""");
        Assert.Contains("resolves to", await Responses.AssertProblemAsync(response, 400), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Not_json_is_415_and_another_tenants_key_is_403()
    {
        await using var app = await StartAsync();
        using (var text = await app.Http.PutAsync("/api/tenants/t1/webhooks", TestApp.Body("""{"url":"https://example.com/"}""", "text/plain")))
        {
            await Responses.AssertProblemAsync(text, 415);
        }

        using var created = await app.Http.PostAsync("/api/tenants/t2/keys", null);
        using var key = JsonDocument.Parse(await Responses.AssertJsonAsync(created, 201));
        using var other = app.App.GetTestClient();
        other.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.RootElement.GetProperty("key").GetString());
        using (var put = await PutAsync(other, "t1", """{"url":"https://example.com/"}"""))
        {
            await Responses.AssertProblemAsync(put, 403);
        }

        using (var get = await other.GetAsync("/api/tenants/t1/webhooks"))
        {
            await Responses.AssertProblemAsync(get, 403);
        }

        using (var delete = await other.DeleteAsync("/api/tenants/t1/webhooks"))
        {
            await Responses.AssertProblemAsync(delete, 403);
        }

        using var own = await PutAsync(other, "t2", """{"url":"https://example.com/"}""");
        await Responses.AssertJsonAsync(own, 201);
    }

    [Fact]
    public async Task Every_event_arrives_in_order_signed_with_its_event_id()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var app = await StartAsync();
        await app.StartConnectedAsync("t1");
        await SubscribeAsync(app, "t1", receiver.Url);

        var events = app.Clients.Client("t1").Context.Events;
        for (int i = 0; i < 20; i++)
        {
            await events.DeliverAsync(Message(app, i));
        }

        await events.DeliverAsync(new ReceiptEvent { MessageId = "out1", Recipient = "15550001111", Status = ReceiptStatus.Read, Timestamp = app.Time.GetUtcNow() });
        await receiver.WaitUntilAsync(() => receiver.Requests.Count >= 21);

        var requests = receiver.Requests.ToArray();
        Assert.Equal(21, requests.Length);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal($"message:m{i}", requests[i].EventId);
            AssertSigned(app, requests[i]);
            using var json = JsonDocument.Parse(requests[i].Body);
            Assert.Equal($"message:m{i}", json.RootElement.GetProperty("event_id").GetString());
            Assert.Equal("message", json.RootElement.GetProperty("event_type").GetString());
            Assert.Equal("t1", json.RootElement.GetProperty("business_id").GetString());
            Assert.Equal($"hi {i}", json.RootElement.GetProperty("data").GetProperty("text").GetString());
        }

        Assert.Equal("receipt:out1:read", requests[20].EventId);
        Assert.StartsWith("application/json", requests[20].ContentType, StringComparison.Ordinal);
        AssertSigned(app, requests[20]);
    }

    [Fact]
    public async Task Every_delivery_attempt_is_a_client_span_with_the_business_id_event_id_attempt_and_status_code()
    {
        using var spans = new SpanCollector();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var app = await StartAsync();
        await app.StartConnectedAsync("trace-hooks");
        await SubscribeAsync(app, "trace-hooks", receiver.Url);
        int unavailable = 2;
        receiver.Status = _ => Interlocked.Decrement(ref unavailable) >= 0 ? 503 : 200;

        await app.Clients.Client("trace-hooks").Context.Events.DeliverAsync(Message(app, 0));
        await receiver.WaitUntilAsync(() => receiver.Requests.Any(r => r.AnsweredStatus == 200), () => app.Time.Advance(TimeSpan.FromSeconds(1)));

        var attempts = await spans.WaitForAsync("webhook deliver", "trace-hooks", count: 3);
        Assert.Equal(3, attempts.Count);
        Assert.All(attempts, static a => Assert.Equal(ActivityKind.Client, a.Kind));
        Assert.All(attempts, static a => Assert.Equal("message:m0", a.GetTagItem(TenantTracing.WebhookEventIdAttribute)));
        Assert.Equal([1, 2, 3], attempts.Select(static a => (int)a.GetTagItem(TenantTracing.WebhookAttemptAttribute)!));
        Assert.Equal([503, 503, 200], attempts.Select(static a => (int)a.GetTagItem(TenantTracing.HttpStatusCodeAttribute)!));
        Assert.Equal(["failed", "failed", "delivered"], attempts.Select(static a => (string)a.GetTagItem(TenantTracing.WebhookOutcomeAttribute)!));
        Assert.Equal([ActivityStatusCode.Error, ActivityStatusCode.Error, ActivityStatusCode.Unset], attempts.Select(static a => a.Status));
        Assert.Equal("503", attempts[0].GetTagItem(TenantTracing.ErrorTypeAttribute));
    }

    [Fact]
    public async Task A_delivery_attempt_without_an_answer_is_a_failed_span_without_a_status_code()
    {
        using var spans = new SpanCollector();
        await using var app = await StartAsync();
        await app.StartConnectedAsync("trace-hooks-down");
        await SubscribeAsync(app, "trace-hooks-down", new Uri($"http://127.0.0.1:{WebhookReceiver.FreePort()}/hook"));

        await app.Clients.Client("trace-hooks-down").Context.Events.DeliverAsync(Message(app, 0));

        var attempt = (await spans.WaitForAsync("webhook deliver", "trace-hooks-down", count: 1))[0];
        Assert.Null(attempt.GetTagItem(TenantTracing.HttpStatusCodeAttribute));
        Assert.Equal("failed", attempt.GetTagItem(TenantTracing.WebhookOutcomeAttribute));
        Assert.Equal(ActivityStatusCode.Error, attempt.Status);
        Assert.Equal(nameof(HttpRequestError.ConnectionError), attempt.GetTagItem(TenantTracing.ErrorTypeAttribute));
    }

    [Fact]
    public async Task A_receiver_down_for_a_while_then_up_gets_everything_in_order_and_nothing_twice()
    {
        int port = WebhookReceiver.FreePort();
        await using var app = await StartAsync();
        await app.StartConnectedAsync("t1");
        await SubscribeAsync(app, "t1", new Uri($"http://127.0.0.1:{port}/hook"));
        var outbox = app.App.Services.GetRequiredService<ITenantWebhookOutbox>();
        var t1 = TenantId.Parse("t1");

        // Refused connections first: the head event fails and waits for its retry; the others queue behind it.
        var events = app.Clients.Client("t1").Context.Events;
        for (int i = 0; i < 5; i++)
        {
            await events.DeliverAsync(Message(app, i));
        }

        Assert.Equal(5, (await outbox.CountAsync(t1)).Pending);
        await using var receiver = await WebhookReceiver.StartAsync(port);
        int unavailable = 3;
        receiver.Status = _ => Interlocked.Decrement(ref unavailable) >= 0 ? 503 : 200;

        await receiver.WaitUntilAsync(() => receiver.Requests.Count(r => r.AnsweredStatus == 200) >= 5, () => app.Time.Advance(TimeSpan.FromSeconds(1)));
        var delivered = receiver.Requests.Where(r => r.AnsweredStatus == 200).Select(r => r.EventId).ToArray();
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"message:m{i}"), delivered);
        Assert.Equal(3, receiver.Requests.Count(r => r.AnsweredStatus == 503));
        Assert.All(receiver.Requests.Where(r => r.AnsweredStatus == 503), r => Assert.Equal("message:m0", r.EventId));
        Assert.All(receiver.Requests, r => AssertSigned(app, r));
        await receiver.WaitUntilAsync(() => outbox.CountAsync(t1).AsTask().Result == new WebhookOutboxCounts(0, 5, 0));

        // A redelivered event (the same id, as an inbox retry would produce) is not sent again.
        await events.DeliverAsync(Message(app, 0));
        await events.DeliverAsync(Message(app, 5));
        await receiver.WaitUntilAsync(() => receiver.Requests.Count(r => r.AnsweredStatus == 200) >= 6);
        Assert.Equal(1, receiver.Requests.Count(r => r.EventId == "message:m0" && r.AnsweredStatus == 200));
    }

    [Fact]
    public async Task An_event_that_fails_for_the_whole_retry_period_becomes_a_dead_letter_and_the_next_one_goes_out()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var app = await TestApp.StartAsync(b => b.Services.Configure<WebhookDeliveryOptions>(o =>
        {
            o.AllowPrivateTargets = true;
            o.RetryBaseDelay = TimeSpan.FromSeconds(1);
            o.RetryMaxDelay = TimeSpan.FromSeconds(2);
            o.RetryPeriod = TimeSpan.FromSeconds(10);
            o.Timeout = TimeSpan.FromMinutes(5); // the test's clock runs ahead while an attempt is in flight: no time-out from that
        }));
        await app.StartConnectedAsync("t1");
        await SubscribeAsync(app, "t1", receiver.Url);
        receiver.Status = id => id == "message:m0" ? 500 : 200;
        var events = app.Clients.Client("t1").Context.Events;
        await events.DeliverAsync(Message(app, 0));
        await events.DeliverAsync(Message(app, 1));
        var outbox = app.App.Services.GetRequiredService<ITenantWebhookOutbox>();

        await receiver.WaitUntilAsync(() => receiver.Requests.Any(r => r.AnsweredStatus == 200), () => app.Time.Advance(TimeSpan.FromSeconds(1)));

        // m1 waited behind m0 through all of m0's attempts, then went out once m0 was given up.
        var requests = receiver.Requests.ToArray();
        // How many attempts m0 got depends on the jitter and on how far the test's clock ran during each (retries: the test above).
        Assert.True(requests.Length >= 2, $"m0 was never sent: {requests.Length} requests");
        Assert.All(requests[..^1], r => Assert.Equal("message:m0", r.EventId));
        Assert.Equal("message:m1", requests[^1].EventId);
        var dead = Assert.Single(await outbox.ListDeadAsync(TenantId.Parse("t1"), 0, 10));
        Assert.Equal("message:m0", dead.EventId);
        Assert.Equal("The receiver answered HTTP 500.", dead.LastError);
    }

    [Fact]
    public async Task A_private_target_is_refused_at_delivery_even_when_it_got_into_the_store_and_nothing_is_sent()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var app = await StartAsync(allowPrivateTargets: false);
        await app.StartConnectedAsync("t1");
        await app.StartConnectedAsync("t2");
        var store = app.App.Services.GetRequiredService<ITenantWebhookSubscriptionStore>();
        var protector = app.App.Services.GetRequiredService<ITenantSecretProtector>();

        // As if DNS changed after the PUT's check: a host name (this machine's) that resolves to a non-public address, and an IP literal.
        var byName = new UriBuilder(receiver.Url) { Host = Dns.GetHostName() }.Uri;
        foreach (var (tenant, url) in new[] { ("t1", byName), ("t2", receiver.Url) })
        {
            var id = TenantId.Parse(tenant);
            await store.PutAsync(id, url, [WebhookEventTypes.All], protector.Protect(id, WebhookSubscriptions.SecretPurpose, Encoding.UTF8.GetBytes(Secret)));
            await app.Clients.Client(tenant).Context.Events.DeliverAsync(Message(app, 0));
        }

        var outbox = app.App.Services.GetRequiredService<ITenantWebhookOutbox>();
        await receiver.WaitUntilAsync(
            () => outbox.CountAsync(TenantId.Parse("t1")).AsTask().Result.Dead == 1 && outbox.CountAsync(TenantId.Parse("t2")).AsTask().Result.Dead == 1,
            () => app.Time.Advance(TimeSpan.FromSeconds(1)));
        Assert.Empty(receiver.Requests);
        Assert.Contains("resolves to", Assert.Single(await outbox.ListDeadAsync(TenantId.Parse("t1"), 0, 10)).LastError, StringComparison.Ordinal);
        Assert.Contains("loopback", Assert.Single(await outbox.ListDeadAsync(TenantId.Parse("t2"), 0, 10)).LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dead_endpoint_does_not_delay_another_tenant()
    {
        // The app first, so it is disposed last: a stop lets the attempt in flight finish, and the stuck receiver's disposal ends it.
        await using var app = await StartAsync();
        await using var stuck = await WebhookReceiver.StartAsync();
        await using var healthy = await WebhookReceiver.StartAsync();
        stuck.Hang = true;
        await app.StartConnectedAsync("t1");
        await app.StartConnectedAsync("t2");
        await SubscribeAsync(app, "t1", stuck.Url);
        await SubscribeAsync(app, "t2", healthy.Url);

        var t1 = app.Clients.Client("t1").Context.Events;
        await t1.DeliverAsync(Message(app, 0));
        await t1.DeliverAsync(Message(app, 1));
        await stuck.WaitUntilAsync(() => stuck.Requests.Count == 1);

        var t2 = app.Clients.Client("t2").Context.Events;
        for (int i = 0; i < 10; i++)
        {
            await t2.DeliverAsync(Message(app, i));
        }

        await healthy.WaitUntilAsync(() => healthy.Requests.Count == 10);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"message:m{i}"), healthy.Requests.Select(r => r.EventId));
        Assert.Single(stuck.Requests); // t1's second event waits behind its first, in order
    }

    private static async Task SubscribeAsync(TestApp app, string tenant, Uri url)
    {
        using var response = await PutAsync(app.Http, tenant, $$"""{"url":"{{url}}","event_types":["message","receipt"],"secret":"{{Secret}}"}""");
        await Responses.AssertJsonAsync(response, 201);
    }

    private static Task<HttpResponseMessage> PutAsync(HttpClient http, string tenant, string body) =>
        http.PutAsync($"/api/tenants/{tenant}/webhooks", TestApp.Body(body));

    private static MessageEvent Message(TestApp app, int i) =>
        new() { MessageId = $"m{i}", From = "15551234567", Text = $"hi {i}", Timestamp = app.Time.GetUtcNow() };

    private static void AssertSigned(TestApp app, WebhookReceiver.Request request) =>
        Assert.True(WebhookSignature.Verify(Encoding.UTF8.GetBytes(Secret), request.Signature, request.Body, app.Time.GetUtcNow(), TimeSpan.FromHours(1)));
}
