using System.Net;
using System.Text.Json.Nodes;
using MultiTenant.Events;
using MultiTenant.Wuzapi.Tests.Infrastructure;
using static MultiTenant.Wuzapi.Tests.Infrastructure.FakeWuzapiEngine;

namespace MultiTenant.Wuzapi.Tests;

/// <summary>The engine's signed webhooks into the durable inbox and out to the tenant's handlers as typed events.</summary>
public sealed class InboundTests : IAsyncLifetime
{
    private readonly TenantId _tenant = TenantId.Parse("inbound");
    private FakeWuzapiEngine _engine = null!;
    private WuzapiTestHost _host = null!;

    public async Task InitializeAsync()
    {
        _engine = await FakeWuzapiEngine.StartAsync();
        _host = await WuzapiTestHost.StartAsync(_engine);
        await _host.StartPairedAsync(_engine, _tenant);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _engine.DisposeAsync();
    }

    public static string TextMessage(string id, string text, string from = "5491155554444") => Event("Message", new JsonObject
    {
        ["Info"] = new JsonObject
        {
            ["Chat"] = from + "@s.whatsapp.net", ["Sender"] = from + "@s.whatsapp.net", ["IsFromMe"] = false, ["IsGroup"] = false, ["ID"] = id,
            ["Type"] = "text", ["PushName"] = "Ana", ["Timestamp"] = "2025-05-08T16:40:01-03:00", ["Category"] = string.Empty,
        },
        ["Message"] = new JsonObject { ["conversation"] = text },
        ["IsEphemeral"] = false,
    });

    [Fact]
    public async Task A_signed_message_delivered_twice_is_handled_once_as_a_typed_message()
    {
        string payload = TextMessage("3EB0C431C26A1916E07A", "hola, ¿qué tal?");

        Assert.Equal(HttpStatusCode.OK, await _engine.DeliverAsync("inbound", payload));
        Assert.Equal(HttpStatusCode.OK, await _engine.DeliverAsync("inbound", payload));
        await MarkAsync();

        var message = Assert.IsType<WuzapiMessageEvent>(Assert.Single(_host.Events.Of<MessageEvent>(_tenant), m => m.MessageId == "3EB0C431C26A1916E07A"));
        Assert.Equal("hola, ¿qué tal?", message.Text);
        Assert.Equal("text", message.Type);
        Assert.Equal("5491155554444", message.From);
        Assert.Equal("5491155554444@s.whatsapp.net", message.Chat);
        Assert.Equal("Ana", message.PushName);
        Assert.Equal(DateTimeOffset.Parse("2025-05-08T19:40:01Z", System.Globalization.CultureInfo.InvariantCulture), message.Timestamp);
    }

    [Fact]
    public async Task A_read_receipt_for_two_messages_is_two_receipt_events()
    {
        string payload = Event("ReadReceipt", new JsonObject
        {
            ["Chat"] = "5491155554444@s.whatsapp.net", ["Sender"] = "5491155554444@s.whatsapp.net", ["IsFromMe"] = false, ["IsGroup"] = false,
            ["MessageIDs"] = new JsonArray("3EB0000000000001", "3EB0000000000002"), ["Timestamp"] = "2025-05-08T16:41:00-03:00", ["Type"] = "read",
        }, state: "Read");

        Assert.Equal(HttpStatusCode.OK, await _engine.DeliverAsync("inbound", payload));
        await _host.Events.WaitForAsync<ReceiptEvent>(_tenant, 2);

        var receipts = _host.Events.Of<ReceiptEvent>(_tenant);
        Assert.Equal(["3EB0000000000001", "3EB0000000000002"], receipts.Select(r => r.MessageId));
        Assert.All(receipts, r => Assert.Equal(ReceiptStatus.Read, r.Status));
        Assert.All(receipts, r => Assert.Equal("5491155554444", r.Recipient));
    }

    [Fact]
    public async Task Presence_chat_presence_and_history_sync_arrive_as_their_events()
    {
        string presence = Event("Presence", new JsonObject { ["From"] = "5491155554444@s.whatsapp.net", ["Unavailable"] = false, ["LastSeen"] = "0001-01-01T00:00:00Z" }, state: "online");
        string typing = Event("ChatPresence", new JsonObject
        {
            ["Chat"] = "5491155554444@s.whatsapp.net", ["Sender"] = "5491155554444@s.whatsapp.net", ["IsFromMe"] = false, ["IsGroup"] = false, ["State"] = "composing", ["Media"] = string.Empty,
        });
        string history = Event("HistorySync", new JsonObject { ["Data"] = new JsonObject { ["syncType"] = 2, ["conversations"] = new JsonArray() } });

        Assert.Equal(HttpStatusCode.OK, await _engine.DeliverAsync("inbound", presence));
        Assert.Equal(HttpStatusCode.OK, await _engine.DeliverAsync("inbound", typing));
        Assert.Equal(HttpStatusCode.OK, await _engine.DeliverAsync("inbound", history));
        await _host.Events.WaitForAsync<WuzapiEngineEvent>(_tenant);

        var online = Assert.Single(_host.Events.Of<WuzapiPresenceEvent>(_tenant));
        Assert.True(online.Available);
        Assert.Null(online.LastSeen);
        Assert.Equal("5491155554444@s.whatsapp.net", online.From);
        var composing = Assert.Single(_host.Events.Of<WuzapiChatPresenceEvent>(_tenant));
        Assert.Equal("composing", composing.State);
        var sync = Assert.Single(_host.Events.Of<WuzapiEngineEvent>(_tenant));
        Assert.Equal("HistorySync", sync.EventType);
        Assert.Contains("\"syncType\":2", sync.Payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_signature_a_wrong_token_or_an_unknown_tenant_is_401_and_nothing_is_handled()
    {
        string forged = TextMessage("3EB0FORGED000001", "forged");
        string key = _engine.User("inbound").HmacKey!;

        var badSignature = await _engine.DeliverAsync("inbound", forged, signature: new string('0', 64));
        var otherKey = await _engine.DeliverAsync("inbound", forged, signature: Sign("another-key", "jsonData=x"));
        var wrongToken = await _engine.DeliverAsync("inbound", forged, token: "not-the-token", signature: Sign(key, "jsonData=" + Uri.EscapeDataString(forged) + "&token=not-the-token"));
        using var client = new HttpClient();
        using var unknown = await client.PostAsync(new Uri(_host.Http.BaseAddress!, "webhooks/wuzapi/nobody"), new StringContent("jsonData=%7B%7D", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        await MarkAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, badSignature);
        Assert.Equal(HttpStatusCode.Unauthorized, otherKey);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongToken);
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.DoesNotContain(_host.Events.Of<MessageEvent>(_tenant), m => m.MessageId == "3EB0FORGED000001");
    }

    [Fact]
    public async Task A_signed_body_that_is_not_an_event_is_400()
    {
        Assert.Equal(HttpStatusCode.BadRequest, await _engine.DeliverAsync("inbound", "not json"));
        Assert.Equal(HttpStatusCode.BadRequest, await _engine.DeliverAsync("inbound", """{"event":{}}"""));
    }

    [Fact]
    public async Task A_delivery_while_the_tenant_is_stopped_waits_in_the_inbox_and_is_handled_after_it_starts()
    {
        await _host.Coordinator.StopAsync(_tenant);

        Assert.Equal(HttpStatusCode.OK, await _engine.DeliverAsync("inbound", TextMessage("3EB0WHILESTOPPED", "while stopped")));
        Assert.DoesNotContain(_host.Events.Of<MessageEvent>(_tenant), m => m.MessageId == "3EB0WHILESTOPPED");
        await _host.Coordinator.StartAsync(_tenant);
        await _host.Events.WaitForAsync(events => events.Any(e => e.Event is MessageEvent { MessageId: "3EB0WHILESTOPPED" }));

        Assert.Single(_host.Events.Of<MessageEvent>(_tenant), m => m.MessageId == "3EB0WHILESTOPPED");
    }

    /// <summary>Delivers a "mark" message and waits until it was handled: the inbox delivers in order, so everything before it was too.</summary>
    private async Task MarkAsync()
    {
        string id = "3EB0MARK" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Assert.Equal(HttpStatusCode.OK, await _engine.DeliverAsync("inbound", TextMessage(id, "mark")));
        await _host.Events.WaitForAsync(events => events.Any(e => e.Tenant == _tenant && e.Event is MessageEvent { MessageId: var m } && m == id));
    }
}
