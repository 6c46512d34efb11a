using MultiTenant.Clients;
using MultiTenant.CloudApi.Tests.Infrastructure;

namespace MultiTenant.CloudApi.Tests;

/// <summary>Messages that break Meta's documented limits are refused with <see cref="InvalidMessageException"/> before any Graph call.</summary>
public sealed class MessageValidationTests : IAsyncLifetime
{
    private const string Phone = "106540352242922";
    private const string Token = "EAAGtoken-tenant-a-0001";

    private FakeGraphApi _graph = null!;

    public async Task InitializeAsync() => _graph = await FakeGraphApi.StartAsync();

    public async Task DisposeAsync() => await _graph.DisposeAsync();

    private static ReplyButton Button(int i) => new("b" + i, "Button " + i);

    private static ListRow Row(int i) => new("r" + i, "Row " + i);

    public static readonly Dictionary<string, (MessageContent Content, string Field)> Cases = new()
    {
        ["text_4097"] = (new TextContent(new string('x', 4097)), "text.body"),
        ["text_empty"] = (new TextContent(""), "text.body"),
        ["four_buttons"] = (new InteractiveButtonsContent("Pick", [Button(1), Button(2), Button(3), Button(4)]), "interactive.action.buttons"),
        ["no_buttons"] = (new InteractiveButtonsContent("Pick", []), "interactive.action.buttons"),
        ["button_title_21"] = (new InteractiveButtonsContent("Pick", [new ReplyButton("a", new string('t', 21))]), "interactive.action.buttons.reply.title"),
        ["duplicate_button_ids"] = (new InteractiveButtonsContent("Pick", [new ReplyButton("a", "One"), new ReplyButton("a", "Two")]), "interactive.action.buttons"),
        ["button_body_1025"] = (new InteractiveButtonsContent(new string('b', 1025), [Button(1)]), "interactive.body.text"),
        ["header_61"] = (new InteractiveButtonsContent("Pick", [Button(1)]) { Header = new string('h', 61) }, "interactive.header.text"),
        ["eleven_rows"] = (new InteractiveListContent("Pick", "Open", [new ListSection("A", [Row(1), Row(2), Row(3), Row(4), Row(5), Row(6)]), new ListSection("B", [Row(7), Row(8), Row(9), Row(10), Row(11)])]), "interactive.action.sections.rows"),
        ["untitled_sections"] = (new InteractiveListContent("Pick", "Open", [new ListSection(null, [Row(1)]), new ListSection("B", [Row(2)])]), "interactive.action.sections.title"),
        ["row_title_25"] = (new InteractiveListContent("Pick", "Open", [new ListSection(null, [new ListRow("r", new string('r', 25))])]), "interactive.action.sections.rows.title"),
        ["row_description_73"] = (new InteractiveListContent("Pick", "Open", [new ListSection(null, [new ListRow("r", "R", new string('d', 73))])]), "interactive.action.sections.rows.description"),
        ["list_button_21"] = (new InteractiveListContent("Pick", new string('o', 21), [new ListSection(null, [Row(1)])]), "interactive.action.button"),
        ["sticker_caption"] = (new MediaContent(MediaKind.Sticker, MediaSource.FromId("1")) { Caption = "no" }, "sticker.caption"),
        ["audio_caption"] = (new MediaContent(MediaKind.Audio, MediaSource.FromId("1")) { Caption = "no" }, "audio.caption"),
        ["image_filename"] = (new MediaContent(MediaKind.Image, MediaSource.FromId("1")) { Filename = "a.png" }, "image.filename"),
        ["caption_1025"] = (new MediaContent(MediaKind.Image, MediaSource.FromId("1")) { Caption = new string('c', 1025) }, "image.caption"),
        ["latitude_91"] = (new LocationContent(91, 0), "location.latitude"),
        ["no_contacts"] = (new ContactsContent([]), "contacts"),
        ["button_component_without_index"] = (new TemplateContent("t", "en_US") { Components = [new TemplateComponent("button", [TemplateParameter.FromPayload("p")]) { SubType = "quick_reply" }] }, "template.components[0]"),
        ["template_without_name"] = (new TemplateContent("", "en_US"), "template.name"),
    };

    public static TheoryData<string> Names() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public async Task A_message_over_a_limit_is_refused_before_any_graph_call(string name)
    {
        var (content, field) = Cases[name];
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);

        var error = await Assert.ThrowsAsync<InvalidMessageException>(() => host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551234567", content)));

        Assert.Equal(field, error.Field);
        Assert.Empty(_graph.Sends);
    }

    [Fact]
    public async Task The_limits_themselves_are_accepted()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);

        await host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551000001", new string('x', 4096)));
        await host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551000002", new InteractiveButtonsContent(new string('b', 1024), [new ReplyButton("a", new string('t', 20)), Button(2), Button(3)])));
        await host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15551000003", new InteractiveListContent("Pick", new string('o', 20),
            [new ListSection("A", [Row(1), Row(2), Row(3), Row(4), Row(5)]), new ListSection("B", [Row(6), Row(7), Row(8), Row(9), new ListRow("r10", new string('r', 24), new string('d', 72))])])));

        Assert.Equal(3, _graph.Sends.Count);
    }
}
