using System.Net;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Events;
using static MultiTenant.CloudApi.Tests.Infrastructure.MetaPayloads;

namespace MultiTenant.CloudApi.Tests;

/// <summary>The typed inbound events through the real webhook endpoint and the tenant's inbox: parsed, delivered in payload order, a redelivery absorbed.</summary>
public sealed class InboundKindsWebhookTests : GraphAndHostTest
{
    private const string Phone = "106540352242922";

    [Fact]
    public async Task Media_reaction_and_error_events_reach_the_handler_in_order_and_a_redelivery_adds_no_message()
    {
        var tenant = await Host.AddTenantAsync(Graph, "tenant-a", Phone, "EAAGtoken-a");
        await Host.StartConnectedAsync(tenant);
        string image = """{"from":"16505551234","id":"wamid.image1","timestamp":"1749416383","type":"image","image":{"caption":"This is a caption","mime_type":"image/jpeg","sha256":"81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3","id":"2754859441498128"}}""";
        string reaction = """{"from":"16505551234","id":"wamid.reaction1","timestamp":"1749416384","type":"reaction","reaction":{"message_id":"wamid.out1","emoji":"\uD83D\uDC4D"}}""";
        string change = Change(Phone, messages: [image, reaction]);
        string errors = ""","errors":[{"code":131000,"title":"Something went wrong","message":"Something went wrong","error_data":{"details":"Unknown error."}}]}""";
        string payload = Envelope(change[..change.LastIndexOf("},\"field\"", StringComparison.Ordinal)] + errors + ",\"field\":\"messages\"}");

        using var first = await SignedWebhook.PostAsync(Host.Http, payload);
        await Host.Events.WaitForAsync(all => all.Count(x => x.Tenant == tenant && x.Event is CloudApiMessageEvent or CloudApiWebhookErrorEvent) >= 3);
        using var again = await SignedWebhook.PostAsync(Host.Http, payload); // absorbed by the inbox keys: nothing new is stored

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        // Acknowledged once stored; a later message is handled after everything stored before it (the inbox keeps the order).
        using var mark = await SignedWebhook.PostAsync(Host.Http, Envelope(Change(Phone, messages: ["""{"from":"16505551234","id":"wamid.mark","timestamp":"1749416390","type":"text","text":{"body":"mark"}}"""])));
        await Host.Events.WaitForAsync(all => all.Any(e => e.Event is MessageEvent { MessageId: "wamid.mark" }));
        var events = Host.Events.All(tenant).Where(static e => e is CloudApiMessageEvent or CloudApiWebhookErrorEvent).ToList();
        Assert.IsType<CloudApiMediaMessageEvent>(events[0]);
        Assert.Equal(("2754859441498128", MediaKind.Image, "Sheena Nelson"), (((CloudApiMediaMessageEvent)events[0]).MediaId, ((CloudApiMediaMessageEvent)events[0]).MediaKind, ((CloudApiMediaMessageEvent)events[0]).ContactName));
        Assert.Equal("wamid.out1", Assert.IsType<CloudApiReactionEvent>(events[1]).ReactedMessageId);
        Assert.Equal(131000, Assert.IsType<CloudApiWebhookErrorEvent>(events[2]).Code);
        Assert.Equal(4, events.Count); // the redelivery added nothing: image, reaction, error, mark
        Assert.Equal(3, Host.Events.Of<MessageEvent>(tenant).Count);
    }
}
