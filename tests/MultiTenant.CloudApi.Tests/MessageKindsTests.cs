using MultiTenant.Clients;
using MultiTenant.CloudApi.Tests.Infrastructure;

namespace MultiTenant.CloudApi.Tests;

/// <summary>Every outbound message kind reaches the fake Graph API as the exact JSON Meta documents for <c>POST /{phone-number-id}/messages</c>.</summary>
public sealed class MessageKindsTests : IAsyncLifetime
{
    private const string Phone = "106540352242922";
    private const string Token = "EAAGtoken-tenant-a-0001";
    private const string Prefix = "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\",\"to\":\"15551234567\"";

    private FakeGraphApi _graph = null!;

    public async Task InitializeAsync() => _graph = await FakeGraphApi.StartAsync();

    public async Task DisposeAsync() => await _graph.DisposeAsync();

    /// <summary>The message of each kind and the body Meta documents for it (after the common prefix).</summary>
    public static readonly Dictionary<string, (OutboundMessage Message, string Json)> Cases = new()
    {
        ["text_reply"] = (new OutboundMessage("15551234567", new TextContent("See https://example.com") { PreviewUrl = true }) { ReplyToMessageId = "wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQzQTdCNTg5RjY1MEQyRjE5QjgxMwA=" },
            ""","context":{"message_id":"wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQzQTdCNTg5RjY1MEQyRjE5QjgxMwA="},"type":"text","text":{"preview_url":true,"body":"See https://example.com"}}"""),
        ["template"] = (new OutboundMessage("15551234567", new TemplateContent("order_update", "en_US")
        {
            Components =
            [
                new TemplateComponent("header", [TemplateParameter.FromMedia(MediaKind.Image, MediaSource.FromLink(new Uri("https://example.com/box.png")))]),
                new TemplateComponent("body", [TemplateParameter.FromText("Ana"), TemplateParameter.FromCurrency("$100.99", "USD", 100990), TemplateParameter.FromDateTime("February 25, 1977")]),
                new TemplateComponent("button", [TemplateParameter.FromPayload("TRACK-42")]) { SubType = "quick_reply", Index = 0 },
            ],
        }),
            ""","type":"template","template":{"name":"order_update","language":{"code":"en_US"},"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/box.png"}}]},{"type":"body","parameters":[{"type":"text","text":"Ana"},{"type":"currency","currency":{"fallback_value":"$100.99","code":"USD","amount_1000":100990}},{"type":"date_time","date_time":{"fallback_value":"February 25, 1977"}}]},{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"TRACK-42"}]}]}}"""),
        ["template_plain"] = (new OutboundMessage("15551234567", new TemplateContent("hello_world", "en_US")),
            ""","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}"""),
        ["image_id"] = (new OutboundMessage("15551234567", new MediaContent(MediaKind.Image, MediaSource.FromId("1479537139650973")) { Caption = "The new menu" }),
            ""","type":"image","image":{"id":"1479537139650973","caption":"The new menu"}}"""),
        ["document_link"] = (new OutboundMessage("15551234567", new MediaContent(MediaKind.Document, MediaSource.FromLink(new Uri("https://example.com/invoice.pdf"))) { Caption = "Invoice", Filename = "invoice-42.pdf" }),
            ""","type":"document","document":{"link":"https://example.com/invoice.pdf","caption":"Invoice","filename":"invoice-42.pdf"}}"""),
        ["audio"] = (new OutboundMessage("15551234567", new MediaContent(MediaKind.Audio, MediaSource.FromId("1013859600285441"))),
            ""","type":"audio","audio":{"id":"1013859600285441"}}"""),
        ["video"] = (new OutboundMessage("15551234567", new MediaContent(MediaKind.Video, MediaSource.FromLink(new Uri("https://example.com/clip.mp4"))) { Caption = "Unboxing" }),
            ""","type":"video","video":{"link":"https://example.com/clip.mp4","caption":"Unboxing"}}"""),
        ["sticker"] = (new OutboundMessage("15551234567", new MediaContent(MediaKind.Sticker, MediaSource.FromId("798882015472548"))),
            ""","type":"sticker","sticker":{"id":"798882015472548"}}"""),
        ["location"] = (new OutboundMessage("15551234567", new LocationContent(37.44216251868683, -122.16153582049394) { Name = "Philz Coffee", Address = "101 Forest Ave, Palo Alto, CA 94301" }),
            ""","type":"location","location":{"latitude":37.44216251868683,"longitude":-122.16153582049394,"name":"Philz Coffee","address":"101 Forest Ave, Palo Alto, CA 94301"}}"""),
        ["contacts"] = (new OutboundMessage("15551234567", new ContactsContent([new ContactCard("Barbara J. Johnson")
        {
            FirstName = "Barbara", LastName = "Johnson", Birthday = "1999-01-23", Company = "Social Tsunami",
            Phones = [new ContactPhone("+1 (940) 555-1234", "HOME"), new ContactPhone("+1 (650) 555-1234", "WORK", "16505551234")],
            Emails = [new ContactEmail("bjohnson@example.com", "WORK")],
            Urls = [new ContactUrl("https://www.example.com", "WORK")],
        }])),
            ""","type":"contacts","contacts":[{"birthday":"1999-01-23","emails":[{"email":"bjohnson@example.com","type":"WORK"}],"name":{"formatted_name":"Barbara J. Johnson","first_name":"Barbara","last_name":"Johnson"},"org":{"company":"Social Tsunami"},"phones":[{"phone":"\u002B1 (940) 555-1234","type":"HOME"},{"phone":"\u002B1 (650) 555-1234","type":"WORK","wa_id":"16505551234"}],"urls":[{"url":"https://www.example.com","type":"WORK"}]}]}"""),
        ["reaction"] = (new OutboundMessage("15551234567", new ReactionContent("wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTRCRDcwNzgzMTRDNTAwRTgwRQA=", "\U0001F600")),
            ""","type":"reaction","reaction":{"message_id":"wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQTRCRDcwNzgzMTRDNTAwRTgwRQA=","emoji":"\uD83D\uDE00"}}"""),
        ["buttons"] = (new OutboundMessage("15551234567", new InteractiveButtonsContent("Change your appointment?", [new ReplyButton("change-button", "Change"), new ReplyButton("cancel-button", "Cancel")]) { Header = "Appointment", Footer = "Lucky Shrub" }),
            ""","type":"interactive","interactive":{"type":"button","header":{"type":"text","text":"Appointment"},"body":{"text":"Change your appointment?"},"footer":{"text":"Lucky Shrub"},"action":{"buttons":[{"type":"reply","reply":{"id":"change-button","title":"Change"}},{"type":"reply","reply":{"id":"cancel-button","title":"Cancel"}}]}}}"""),
        ["list"] = (new OutboundMessage("15551234567", new InteractiveListContent("Which shipping option?", "Shipping Options",
        [
            new ListSection("I want it ASAP!", [new ListRow("priority_express", "Priority Mail Express", "Next Day to 2 Days"), new ListRow("priority_mail", "Priority Mail")]),
            new ListSection("I can wait a bit", [new ListRow("ground", "USPS Ground Advantage", "2 to 5 Days")]),
        ])),
            ""","type":"interactive","interactive":{"type":"list","body":{"text":"Which shipping option?"},"action":{"button":"Shipping Options","sections":[{"title":"I want it ASAP!","rows":[{"id":"priority_express","title":"Priority Mail Express","description":"Next Day to 2 Days"},{"id":"priority_mail","title":"Priority Mail"}]},{"title":"I can wait a bit","rows":[{"id":"ground","title":"USPS Ground Advantage","description":"2 to 5 Days"}]}]}}}"""),
    };

    public static TheoryData<string> Kinds() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Each_kind_is_posted_as_the_documented_json(string kind)
    {
        var (message, json) = Cases[kind];
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);

        var result = await host.Coordinator.SendMessageAsync(tenant, message with { To = "+15551234567" });

        Assert.StartsWith("wamid.", result.MessageId, StringComparison.Ordinal);
        var send = Assert.Single(_graph.Sends);
        Assert.Equal("/v21.0/" + Phone + "/messages", send.Path);
        Assert.Equal(Prefix + json, send.Body);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_kind_round_trips_through_its_json(string kind)
    {
        var (message, _) = Cases[kind];
        byte[] json = OutboundMessageJson.ToUtf8Bytes(message);

        var parsed = OutboundMessageJson.Parse(json);

        Assert.Equal(System.Text.Encoding.UTF8.GetString(json), System.Text.Encoding.UTF8.GetString(OutboundMessageJson.ToUtf8Bytes(parsed)));
        Assert.Equal(message.Content.GetType(), parsed.Content.GetType());
        Assert.Equal(message.ReplyToMessageId, parsed.ReplyToMessageId);
    }

    [Fact]
    public void The_short_text_form_and_meta_strings_for_coordinates_are_read()
    {
        var text = OutboundMessageJson.Parse("""{"to":"15551234567","text":"hi"}"""u8);
        var location = OutboundMessageJson.Parse("""{"messaging_product":"whatsapp","to":"15551234567","type":"location","location":{"latitude":"37.5","longitude":"-122.25"}}"""u8);

        Assert.Equal("hi", text.Text);
        Assert.Equal(new LocationContent(37.5, -122.25), location.Content);
    }

    [Theory]
    [InlineData("""{"to":"1555","type":"image","image":{"id":"1","link":"https://example.com/a.png"}}""", "image")]
    [InlineData("""{"to":"1555","type":"image","image":{"link":"ftp://example.com/a.png"}}""", "image.link")]
    [InlineData("""{"to":"1555","type":"video"}""", "video")]
    [InlineData("""{"to":"1555","type":"poll","poll":{}}""", "type")]
    [InlineData("""{"type":"text","text":{"body":"hi"}}""", "to")]
    [InlineData("""{"to":"1555","type":"interactive","interactive":{"type":"button","body":{"text":"x"},"action":{"buttons":{}}}}""", "interactive.action.buttons")]
    [InlineData("""{"to":"1555","type":"template","template":{"name":"x","language":{"code":"en"},"components":[{"type":"button","index":"first","parameters":[]}]}}""", "template.components[0].index")]
    [InlineData("""not json""", "$")]
    public void Malformed_messages_name_the_field(string json, string field)
    {
        var error = Assert.Throws<InvalidMessageException>(() => OutboundMessageJson.Parse(System.Text.Encoding.UTF8.GetBytes(json)));

        Assert.Equal(field, error.Field);
    }
}
