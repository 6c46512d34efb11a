using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Inbox;
using MultiTenant.Tests.Shared;
using static MultiTenant.CloudApi.Tests.Infrastructure.MetaPayloads;

namespace MultiTenant.CloudApi.Tests;

/// <summary>Meta's webhook through the real ASP.NET Core pipeline (Kestrel on loopback), with real HMAC signatures.</summary>
public sealed class WebhookTests : IAsyncLifetime
{
    private const string PhoneA = "106540352242922";
    private const string PhoneB = "106540352242999";
    private const string Path = "/webhooks/whatsapp";

    private FakeGraphApi _graph = null!;
    private CloudApiTestHost _host = null!;
    private TenantId _a;
    private TenantId _b;

    public async Task InitializeAsync()
    {
        _graph = await FakeGraphApi.StartAsync();
        _host = await CloudApiTestHost.StartAsync(_graph);
        _a = await _host.AddTenantAsync(_graph, "tenant-a", PhoneA, "EAAGtoken-a");
        _b = await _host.AddTenantAsync(_graph, "tenant-b", PhoneB, "EAAGtoken-b");
        await _host.StartConnectedAsync(_a);
        await _host.StartConnectedAsync(_b);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _graph.DisposeAsync();
    }

    [Fact]
    public async Task Verification_handshake_echoes_the_challenge_when_the_verify_token_matches()
    {
        using var response = await _host.Http.GetAsync(Path + "?hub.mode=subscribe&hub.verify_token=" + CloudApiTestHost.VerifyToken + "&hub.challenge=1158201444");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("1158201444", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("?hub.mode=subscribe&hub.verify_token=wrong-token&hub.challenge=1158201444")]
    [InlineData("?hub.mode=unsubscribe&hub.verify_token=" + CloudApiTestHost.VerifyToken + "&hub.challenge=1158201444")]
    [InlineData("?hub.mode=subscribe&hub.challenge=1158201444")]
    [InlineData("?hub.mode=subscribe&hub.verify_token=" + CloudApiTestHost.VerifyToken)]
    public async Task Verification_handshake_is_refused_otherwise(string query)
    {
        using var response = await _host.Http.GetAsync(Path + query);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.DoesNotContain("1158201444", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Signed_delivery_with_three_messages_reaches_the_tenant_handler_in_order()
    {
        string payload = Envelope(Change(PhoneA, messages:
        [
            TextMessage("16505551234", "wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", 1739321024, "first"),
            TextMessage("16505551234", "wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RwA=", 1739321025, "second"),
            TextMessage("16505551234", "wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0SAA=", 1739321026, "third"),
        ]));

        using var response = await PostAsync(payload);

        // Acknowledged once stored in the inbox; the tenant's consumer then delivers them in order.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await _host.Events.WaitForAsync<CloudApiMessageEvent>(_a, 3);
        var messages = _host.Events.Of<CloudApiMessageEvent>(_a);
        Assert.Equal(["first", "second", "third"], messages.Select(m => m.Text));
        var first = messages[0];
        Assert.Equal("wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", first.MessageId);
        Assert.Equal("16505551234", first.From);
        Assert.Equal("text", first.Type);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1739321024), first.Timestamp);
        Assert.Equal(PhoneA, first.PhoneNumberId);
        Assert.Equal("Sheena Nelson", first.ContactName);
        Assert.Empty(_host.Events.Of<MessageEvent>(_b));
    }

    [Fact]
    public async Task One_delivery_for_two_numbers_reaches_each_tenant()
    {
        string payload = Envelope(
            Change(PhoneA, messages: [TextMessage("16505551234", "wamid.A1", 1739321024, "for a")]),
            Change(PhoneB, messages: [TextMessage("16505550000", "wamid.B1", 1739321024, "for b")]));

        using var response = await PostAsync(payload);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await _host.Events.WaitForAsync<MessageEvent>(_a);
        await _host.Events.WaitForAsync<MessageEvent>(_b);
        Assert.Equal("for a", Assert.Single(_host.Events.Of<MessageEvent>(_a)).Text);
        Assert.Equal("for b", Assert.Single(_host.Events.Of<MessageEvent>(_b)).Text);
    }

    [Theory]
    [InlineData("wrong-secret")]
    [InlineData(null)]
    public async Task Delivery_with_a_bad_or_missing_signature_gets_401_and_routes_nothing(string? signingSecret)
    {
        using var collector = new MetricCollector<long>(_host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), TenantMetrics.MeterName, "whatsmeow.cloudapi.webhook.requests");
        string forged = Envelope(Change(PhoneA, messages: [TextMessage("16505551234", "wamid.FORGED", 1739321024, "forged")]));

        using var refused = await PostAsync(forged, signingSecret);
        using var accepted = await PostAsync(Envelope(Change(PhoneA, messages: [TextMessage("16505551234", "wamid.REAL", 1739321025, "real")])));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        await _host.Events.WaitForAsync<MessageEvent>(_a);
        Assert.Equal(["real"], _host.Events.Of<MessageEvent>(_a).Select(m => m.Text));
        Assert.Contains(collector.GetMeasurementSnapshot(), m => m.Value == 1 && Equals(m.Tags["result"], "unauthorized"));
    }

    [Fact]
    public async Task Body_changed_after_signing_gets_401()
    {
        string payload = Envelope(Change(PhoneA, messages: [TextMessage("16505551234", "wamid.TAMPER", 1739321024, "pay 10")]));
        string signature = WebhookSignature.Compute(CloudApiTestHost.AppSecret, Encoding.UTF8.GetBytes(payload));

        using var response = await PostRawAsync(payload.Replace("pay 10", "pay 99", StringComparison.Ordinal), signature);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(_host.Events.Of<MessageEvent>(_a));
    }

    [Fact]
    public async Task Same_delivery_twice_is_handled_once_even_after_the_tenant_restarts()
    {
        string payload = Envelope(Change(PhoneA, messages: [TextMessage("16505551234", "wamid.ONCE", 1739321024, "once")]));

        using var first = await PostAsync(payload);
        using var second = await PostAsync(payload);
        await _host.Events.WaitForAsync<MessageEvent>(_a);

        // A new client instance (empty memory) runs a new consumer; the inbox key still absorbs the redelivery.
        await _host.Coordinator.StopAsync(_a);
        await _host.StartConnectedAsync(_a);
        using var third = await PostAsync(payload);
        await DeliveredAfterAsync(_a, "wamid.MARK");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
        Assert.Equal(["once", "mark"], _host.Events.Of<MessageEvent>(_a).Select(m => m.Text));
    }

    [Fact]
    public async Task Concurrent_redeliveries_are_handled_once()
    {
        string payload = Envelope(Change(PhoneA, messages: [TextMessage("16505551234", "wamid.RACE", 1739321024, "race")]));

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => PostAsync(payload)));
        await DeliveredAfterAsync(_a, "wamid.MARK");

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(["race", "mark"], _host.Events.Of<MessageEvent>(_a).Select(m => m.Text));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Status_updates_become_receipts_and_each_status_of_a_message_counts_once()
    {
        string payload = Envelope(Change(PhoneA, statuses:
        [
            Status("wamid.OUT1", "sent", "16505551234", 1739321100),
            Status("wamid.OUT1", "delivered", "16505551234", 1739321101),
            Status("wamid.OUT1", "read", "16505551234", 1739321102),
            Status("wamid.OUT2", "failed", "16505551234", 1739321103, 131047, "Re-engagement message"),
        ]));

        using var first = await PostAsync(payload);
        using var again = await PostAsync(payload);
        await DeliveredAfterAsync(_a, "wamid.MARK");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var receipts = _host.Events.Of<CloudApiReceiptEvent>(_a);
        Assert.Equal([ReceiptStatus.Sent, ReceiptStatus.Delivered, ReceiptStatus.Read, ReceiptStatus.Failed], receipts.Select(r => r.Status));
        Assert.All(receipts, r => Assert.Equal("16505551234", r.Recipient));
        var failed = receipts[3];
        Assert.Equal("wamid.OUT2", failed.MessageId);
        Assert.Equal(131047, failed.ErrorCode);
        Assert.StartsWith("131047: Re-engagement message (Message failed to send because more than 24 hours", failed.Error, StringComparison.Ordinal);
        Assert.Null(receipts[0].Error);
    }

    [Fact]
    public async Task Delivery_for_a_number_of_no_tenant_gets_200_is_kept_counted_and_logged_and_reaches_the_tenant_that_claims_it()
    {
        using var unknown = new MetricCollector<long>(_host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), TenantMetrics.MeterName, "whatsmeow.cloudapi.webhook.unknown_numbers");
        using var items = new MetricCollector<long>(_host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), TenantMetrics.MeterName, "whatsmeow.inbox.items");
        const string Later = "999000111222333";

        using var response = await PostAsync(Envelope(Change(Later, messages: [TextMessage("16505551234", "wamid.EARLY", 1739321024, "hello?")])));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, unknown.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Contains(items.GetMeasurementSnapshot(), m => m.Value == 1 && Equals(m.Tags["result"], "unrouted"));
        Assert.Contains(_host.Logs.GetSnapshot(), r => r.Level == LogLevel.Warning && r.Message.Contains(Later, StringComparison.Ordinal));
        Assert.Equal(1, await _host.Services.GetRequiredService<ITenantInbox>().CountUnroutedAsync());

        // The delivery raced the credential setup: once a tenant claims the number, the kept item is its first message.
        var late = await _host.AddTenantAsync(_graph, "tenant-late", Later, "EAAGtoken-late");
        await _host.StartConnectedAsync(late);
        await _host.Events.WaitForAsync<MessageEvent>(late);

        Assert.Equal("hello?", Assert.Single(_host.Events.Of<MessageEvent>(late)).Text);
        Assert.Equal(0, await _host.Services.GetRequiredService<ITenantInbox>().CountUnroutedAsync());
        Assert.Empty(_host.Events.Of<MessageEvent>(_a));
    }

    [Fact]
    public async Task Delivery_for_a_stopped_tenant_gets_200_and_is_handled_once_it_runs_again()
    {
        string payload = Envelope(Change(PhoneA, messages: [TextMessage("16505551234", "wamid.LATER", 1739321024, "while stopped")]));
        await _host.Coordinator.StopAsync(_a);

        using var whileStopped = await PostAsync(payload);
        Assert.Equal(HttpStatusCode.OK, whileStopped.StatusCode);
        Assert.Empty(_host.Events.Of<MessageEvent>(_a));

        await _host.StartConnectedAsync(_a);
        using var retried = await PostAsync(payload);
        await DeliveredAfterAsync(_a, "wamid.MARK");

        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal(["while stopped", "mark"], _host.Events.Of<MessageEvent>(_a).Select(m => m.Text));
    }

    [Fact]
    public async Task A_signed_delivery_is_a_webhook_receive_span_with_the_business_id_and_the_inbox_counts_and_a_redelivery_counts_duplicates()
    {
        using var spans = new SpanCollector();
        string payload = Envelope(Change(PhoneA, messages:
        [
            TextMessage("16505551234", "wamid.trace-1", 1739321024, "first"),
            TextMessage("16505551234", "wamid.trace-2", 1739321025, "second"),
        ]));

        using (var first = await PostAsync(payload))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using (var again = await PostAsync(payload))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        var received = await spans.WaitForAsync("webhook receive", _a.Value, count: 2);
        Assert.Equal([2, 0], received.Select(static s => (int)s.GetTagItem(TenantTracing.InboxAddedAttribute)!));
        Assert.Equal([0, 2], received.Select(static s => (int)s.GetTagItem(TenantTracing.InboxDuplicatesAttribute)!));
        Assert.All(received, static s => Assert.Equal(1, s.GetTagItem(TenantTracing.WebhookTenantsAttribute)));
        Assert.All(received, static s => Assert.Equal("acknowledged", s.GetTagItem(TenantTracing.WebhookOutcomeAttribute)));
        Assert.All(received, static s => Assert.Equal(ActivityStatusCode.Unset, s.Status));
    }

    [Fact]
    public async Task A_delivery_for_two_tenants_names_no_single_business_id_on_its_receive_span()
    {
        using var spans = new SpanCollector();
        string payload = Envelope(
            Change(PhoneA, messages: [TextMessage("16505551234", "wamid.trace-both-a", 1739321024, "to a")]),
            Change(PhoneB, messages: [TextMessage("16505551234", "wamid.trace-both-b", 1739321024, "to b")]));

        using var response = await PostAsync(payload);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await _host.Events.WaitForAsync<CloudApiMessageEvent>(_b, 1);
        Assert.Contains(spans.Spans("webhook receive", businessId: null), static s =>
            (int?)s.GetTagItem(TenantTracing.WebhookTenantsAttribute) == 2 && (int?)s.GetTagItem(TenantTracing.InboxAddedAttribute) == 2);
    }

    [Fact]
    public async Task Signed_body_that_is_not_a_payload_gets_400()
    {
        using var response = await PostAsync("{\"object\":");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Body_over_the_limit_gets_413_before_anything_is_checked()
    {
        string payload = Envelope(Change(PhoneA, messages: [TextMessage("16505551234", "wamid.BIG", 1739321024, new string('x', 2 * 1024 * 1024))]));

        using var response = await PostAsync(payload);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(_host.Events.Of<MessageEvent>(_a));
    }

    [Fact]
    public async Task Payload_of_another_object_is_acknowledged_and_ignored()
    {
        using var response = await PostAsync("""{"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":{}}]}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(_host.Events.Of<MessageEvent>(_a));
    }

    /// <summary>
    /// Posts one more message and waits until it is handled: the inbox delivers a tenant's items in order, so everything stored before
    /// it was handled (or absorbed as a duplicate) by then. The proof that a duplicate was not handled, without waiting for time.
    /// </summary>
    private async Task DeliveredAfterAsync(TenantId tenant, string messageId)
    {
        string phone = tenant == _a ? PhoneA : PhoneB;
        using var response = await PostAsync(Envelope(Change(phone, messages: [TextMessage("16505551234", messageId, 1739321999, "mark")])));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await _host.Events.WaitForAsync(events => events.Any(e => e.Tenant == tenant && e.Event is MessageEvent { MessageId: var id } && id == messageId));
    }

    private Task<HttpResponseMessage> PostAsync(string payload, string? signingSecret = CloudApiTestHost.AppSecret) =>
        PostRawAsync(payload, signingSecret is null ? null : WebhookSignature.Compute(signingSecret, Encoding.UTF8.GetBytes(payload)));

    private Task<HttpResponseMessage> PostRawAsync(string payload, string? signature)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Path) { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        if (signature is not null)
        {
            request.Headers.Add(WebhookSignature.HeaderName, signature);
        }

        return _host.Http.SendAsync(request);
    }
}
