using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.Clients;
using MultiTenant.Media;
using MultiTenant.Wuzapi.Tests.Infrastructure;

namespace MultiTenant.Wuzapi.Tests;

/// <summary>Sends through the tenant API (<c>POST /api/tenants/{business_id}/messages</c>, text) and the coordinator (every kind) over the wuzapi client and the fake engine.</summary>
public sealed class SendTests : IAsyncLifetime
{
    private readonly string _media = Path.Combine(Path.GetTempPath(), "wuzapi-media-" + Guid.NewGuid().ToString("N"));
    private readonly TenantId _tenant = TenantId.Parse("sender");
    private FakeWuzapiEngine _engine = null!;
    private WuzapiTestHost _host = null!;

    public async Task InitializeAsync()
    {
        _engine = await FakeWuzapiEngine.StartAsync();
        _host = await WuzapiTestHost.StartAsync(_engine, tenants: t => t.UseFileSystemMediaStore(o => o.RootPath = _media));
        await _host.StartPairedAsync(_engine, _tenant);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _engine.DisposeAsync();
        if (Directory.Exists(_media))
        {
            Directory.Delete(_media, recursive: true);
        }
    }

    [Fact]
    public async Task A_text_goes_to_chat_send_text_in_the_engines_shape_and_the_engines_message_id_comes_back()
    {
        using var response = await PostAsync("""{"to":"5491155554444","text":"hello meow"}""");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var send = Assert.Single(Sends("/chat/send/text"));
        Assert.Equal(_engine.User("sender").Token, send.Token);
        Assert.Equal("""{"Phone":"5491155554444","Body":"hello meow"}""", send.Body);
        Assert.Equal("3EB0000000000001", await MessageIdAsync(response));
    }

    [Fact]
    public async Task A_reply_carries_the_quoted_message_as_context_info()
    {
        var result = await Send(new OutboundMessage("+5491155554444", "Ditto") { ReplyToMessageId = "AA3DSE28UDJES3" });

        var body = JsonNode.Parse(Assert.Single(Sends("/chat/send/text")).Body)!;
        Assert.Equal("5491155554444", (string?)body["Phone"]);
        Assert.Equal("AA3DSE28UDJES3", (string?)body["ContextInfo"]!["StanzaId"]);
        Assert.Equal("5491155554444@s.whatsapp.net", (string?)body["ContextInfo"]!["Participant"]);
        Assert.Equal("3EB0000000000001", result.MessageId);
    }

    [Fact]
    public async Task An_image_from_the_media_store_goes_as_a_base64_data_url_with_its_caption()
    {
        byte[] png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3];
        await _host.Services.GetRequiredService<IMediaStore>().SaveAsync(_tenant, "cat.png", new MemoryStream(png), "image/png");

        await Send(new OutboundMessage("5491155554444", new MediaContent(MediaKind.Image, MediaSource.FromId("cat.png")) { Caption = "Look at this" }));

        var body = JsonNode.Parse(Assert.Single(Sends("/chat/send/image")).Body)!;
        Assert.Equal("data:image/png;base64," + Convert.ToBase64String(png), (string?)body["Image"]);
        Assert.Equal("Look at this", (string?)body["Caption"]);
    }

    [Fact]
    public async Task A_document_location_contact_and_reaction_go_to_their_engine_calls()
    {
        await _host.Services.GetRequiredService<IMediaStore>().SaveAsync(_tenant, "hola.txt", new MemoryStream("hola"u8.ToArray()), "text/plain");

        await Send(new OutboundMessage("5491155554444", new MediaContent(MediaKind.Document, MediaSource.FromId("hola.txt")) { Filename = "hola.txt" }));
        await Send(new OutboundMessage("5491155554444", new LocationContent(48.85837, 2.294481) { Name = "Paris" }));
        await Send(new OutboundMessage("5491155554444", new ContactsContent([new ContactCard("John Doe") { FirstName = "John", LastName = "Doe", Phones = [new ContactPhone("+1 617 555 1212", "WORK")] }])));
        await Send(new OutboundMessage("5491155554444", new ReactionContent("3EB0AAAA", "❤️")));

        var doc = JsonNode.Parse(Assert.Single(Sends("/chat/send/document")).Body)!;
        Assert.Equal("data:application/octet-stream;base64,aG9sYQ==", (string?)doc["Document"]);
        Assert.Equal("hola.txt", (string?)doc["FileName"]);
        Assert.Equal("""{"Phone":"5491155554444","Latitude":48.85837,"Longitude":2.294481,"Name":"Paris"}""", Assert.Single(Sends("/chat/send/location")).Body);
        var card = JsonNode.Parse(Assert.Single(Sends("/chat/send/contact")).Body)!;
        Assert.Equal("John Doe", (string?)card["Name"]);
        Assert.Equal("BEGIN:VCARD\nVERSION:3.0\nN:Doe;John;;;\nFN:John Doe\nTEL;type=WORK:+1 617 555 1212\nEND:VCARD", (string?)card["Vcard"]);
        var react = JsonNode.Parse(Assert.Single(Sends("/chat/react")).Body)!;
        Assert.Equal("3EB0AAAA", (string?)react["Id"]);
        Assert.Equal("❤️", (string?)react["Body"]);
    }

    [Fact]
    public async Task A_kind_the_engine_cannot_send_is_refused_before_the_engine_and_nothing_is_sent()
    {
        // Declared by the factory (ITenantClientMessageKinds), so the API answers before any client call: 422 and 400 problems.
        using var template = await PostAsync("""{"to":"5491155554444","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, template.StatusCode);
        Assert.Contains("kind_not_supported", await template.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var link = await PostAsync("""{"to":"5491155554444","type":"image","image":{"link":"https://example.com/cat.png"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, link.StatusCode);
        Assert.Contains("invalid_message", await link.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var interactive = await PostAsync("""{"to":"5491155554444","type":"interactive","interactive":{"type":"button","body":{"text":"Pick"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, interactive.StatusCode);

        await Assert.ThrowsAsync<MessageKindNotSupportedException>(() => Send(new OutboundMessage("5491155554444", new TemplateContent("hello_world", "en_US"))));
        await Assert.ThrowsAsync<InvalidMessageException>(() => Send(new OutboundMessage("5491155554444", new MediaContent(MediaKind.Image, MediaSource.FromLink(new Uri("https://example.com/cat.png"))))));
        await Assert.ThrowsAsync<InvalidMessageException>(() => Send(new OutboundMessage("5491155554444", new MediaContent(MediaKind.Image, MediaSource.FromId("missing.png")))));

        Assert.DoesNotContain(_engine.Requests, r => r.Path.StartsWith("/chat/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_retry_with_the_same_idempotency_key_is_answered_with_the_same_id_without_a_second_send()
    {
        using var first = await PostAsync("""{"to":"5491155554444","text":"once"}""", "order-42");
        using var again = await PostAsync("""{"to":"5491155554444","text":"once"}""", "order-42");

        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal(await MessageIdAsync(first), await MessageIdAsync(again));
        Assert.Single(Sends("/chat/send/text"));
    }

    [Fact]
    public async Task An_engine_refusal_is_a_problem_that_does_not_repeat_the_engines_text()
    {
        using var response = await PostAsync("""{"to":"0","text":"x"}"""); // the fake refuses number 0 as whatsmeow does an unknown server

        Assert.False(response.IsSuccessStatusCode);
        Assert.True((int)response.StatusCode is >= 400 and < 600 and not 500, response.StatusCode.ToString());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        string body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("479", body, StringComparison.Ordinal);
        Assert.Contains("HTTP 500", body, StringComparison.Ordinal);
    }

    private Task<SendMessageResult> Send(OutboundMessage message) => _host.Coordinator.SendMessageAsync(_tenant, message);

    private IReadOnlyList<EngineRequest> Sends(string path) => [.. _engine.Requests.Where(r => r.Path == path)];

    private async Task<HttpResponseMessage> PostAsync(string json, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/tenants/sender/messages") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await _host.Http.SendAsync(request);
    }

    private static async Task<string?> MessageIdAsync(HttpResponseMessage response)
    {
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("message_id").GetString();
    }
}
