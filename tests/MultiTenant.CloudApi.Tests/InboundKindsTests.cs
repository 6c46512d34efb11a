using System.Text.Json;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Webhooks;
using MultiTenant.Events;

namespace MultiTenant.CloudApi.Tests;

/// <summary>
/// <see cref="InboundMessageParser"/> on the example payloads of Meta's webhook reference ("messages" field), one per kind: each
/// becomes its typed event with every documented member carried over.
/// </summary>
public sealed class InboundKindsTests
{
    private const string Phone = "106540352242922";
    private static readonly DateTimeOffset ReceivedAt = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Image_with_caption()
    {
        var e = Single<CloudApiMediaMessageEvent>("""{"from":"16505551234","id":"wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749416383","type":"image","image":{"caption":"This is a caption","mime_type":"image/jpeg","sha256":"81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3","id":"2754859441498128"}}""");

        Assert.Equal((MediaKind.Image, "2754859441498128", "image/jpeg", "This is a caption"), (e.MediaKind, e.MediaId, e.MimeType, e.Caption));
        Assert.Equal("81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3", e.Sha256);
        Assert.Equal(("image", "16505551234", "This is a caption", "Sheena Nelson"), (e.Type, e.From, e.Text, e.ContactName));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1749416383), e.Timestamp);
        Assert.Equal(Phone, e.PhoneNumberId);
    }

    [Fact]
    public void Document_with_file_name()
    {
        var e = Single<CloudApiMediaMessageEvent>("""{"from":"16505551234","id":"wamid.doc","timestamp":"1749416383","type":"document","document":{"caption":"Lucky Shrub Invoice","filename":"lucky-shrub-invoice.pdf","mime_type":"application/pdf","sha256":"799a0f7b0d5d1c2ec7a3d3d8cb1c3c8b5e1e2f4a","id":"1003383421387256"}}""");

        Assert.Equal((MediaKind.Document, "lucky-shrub-invoice.pdf", "application/pdf"), (e.MediaKind, e.FileName, e.MimeType));
    }

    [Fact]
    public void Audio_voice_note()
    {
        var e = Single<CloudApiMediaMessageEvent>("""{"from":"16505551234","id":"wamid.audio","timestamp":"1744344496","type":"audio","audio":{"mime_type":"audio/ogg; codecs=opus","sha256":"2Z2zXWp7Pp2cLn2r4E7FDbyXZxKQH8ylVAfIbG4+W8M=","id":"1003383421387256","voice":true}}""");

        Assert.Equal((MediaKind.Audio, true, "audio/ogg; codecs=opus", (string?)null), (e.MediaKind, e.IsVoice, e.MimeType, e.Text));
    }

    [Fact]
    public void Video_and_animated_sticker()
    {
        var video = Single<CloudApiMediaMessageEvent>("""{"from":"16505551234","id":"wamid.video","timestamp":"1744344496","type":"video","video":{"caption":"Potting soil","mime_type":"video/mp4","sha256":"a5ZcKFdj3Dr2Ft6SGu8u7wHkb/Hi3GyhwmoyVsLZhFY=","id":"1210573000498347"}}""");
        var sticker = Single<CloudApiMediaMessageEvent>("""{"from":"16505551234","id":"wamid.sticker","timestamp":"1744344496","type":"sticker","sticker":{"mime_type":"image/webp","sha256":"4Uv8eMmNQVZIYGW29H2DtA7tIEw2XxcHwDajZ1o7ftM=","id":"1011806474296227","animated":true}}""");

        Assert.Equal((MediaKind.Video, "Potting soil"), (video.MediaKind, video.Caption));
        Assert.Equal((MediaKind.Sticker, true, "image/webp"), (sticker.MediaKind, sticker.IsAnimated, sticker.MimeType));
    }

    [Fact]
    public void Location()
    {
        var e = Single<CloudApiLocationEvent>("""{"from":"16505551234","id":"wamid.loc","timestamp":"1744344496","location":{"address":"1 Hacker Way, Menlo Park, CA 94025","latitude":37.483307,"longitude":-122.148981,"name":"Main Office","url":"https://www.facebook.com"},"type":"location"}""");

        Assert.Equal((37.483307, -122.148981), (e.Latitude, e.Longitude));
        Assert.Equal(("Main Office", "1 Hacker Way, Menlo Park, CA 94025", "https://www.facebook.com", "Main Office"), (e.Name, e.Address, e.Url, e.Text));
    }

    [Fact]
    public void Contacts()
    {
        var e = Single<CloudApiContactsEvent>("""{"from":"16505551234","id":"wamid.contacts","timestamp":"1744344496","type":"contacts","contacts":[{"addresses":[{"city":"Menlo Park","country":"United States","country_code":"us","state":"CA","street":"1 Hacker Way","type":"WORK","zip":"94025"}],"birthday":"1999-01-23","emails":[{"email":"bjohnson@luckyshrub.com","type":"WORK"}],"name":{"formatted_name":"Barbara J. Johnson","first_name":"Barbara","last_name":"Johnson","middle_name":"Joana"},"org":{"company":"Lucky Shrub","department":"Legal","title":"Lead Counsel"},"phones":[{"phone":"+1 (415) 555-0123","wa_id":"14155550123","type":"WORK"},{"phone":"+1 (415) 555-0999","type":"HOME"}],"urls":[{"url":"https://www.luckyshrub.com","type":"WORK"}]}]}""");

        var card = Assert.Single(e.Contacts);
        Assert.Equal(("Barbara J. Johnson", "Barbara", "Johnson", "Lucky Shrub"), (card.FormattedName, card.FirstName, card.LastName, card.Company));
        Assert.Equal([new CloudApiContactPhone("+1 (415) 555-0123", "14155550123", "WORK"), new CloudApiContactPhone("+1 (415) 555-0999", null, "HOME")], card.Phones);
        Assert.Equal(["bjohnson@luckyshrub.com"], card.Emails);
        Assert.Equal("Barbara J. Johnson", e.Text);
    }

    [Theory]
    [InlineData("""{"type":"button_reply","button_reply":{"id":"cancel-button","title":"Cancel"}}""", "button_reply", "cancel-button", "Cancel", null)]
    [InlineData("""{"type":"list_reply","list_reply":{"id":"priority_express","title":"Priority Mail Express","description":"Next Day to 2 Days"}}""", "list_reply", "priority_express", "Priority Mail Express", "Next Day to 2 Days")]
    public void Interactive_replies(string interactive, string replyType, string replyId, string title, string? description)
    {
        var e = Single<CloudApiInteractiveReplyEvent>("""{"context":{"from":"15550783881","id":"wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="},"from":"16505551234","id":"wamid.reply","timestamp":"1744344496","type":"interactive","interactive":""" + interactive + "}");

        Assert.Equal((replyType, replyId, title, description, title), (e.ReplyType, e.ReplyId, e.Title, e.Description, e.Text));
        Assert.Equal("wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=", e.ReplyToMessageId);
    }

    [Fact]
    public void Template_quick_reply_button()
    {
        var e = Single<CloudApiButtonEvent>("""{"context":{"from":"15550783881","id":"wamid.template"},"from":"16505551234","id":"wamid.button","timestamp":"1744344496","type":"button","button":{"payload":"Unsubscribe from Promos","text":"Unsubscribe from Promos"}}""");

        Assert.Equal(("Unsubscribe from Promos", "Unsubscribe from Promos", "wamid.template"), (e.Payload, e.Text, e.ReplyToMessageId));
    }

    [Theory]
    [InlineData("""{"message_id":"wamid.HBgLMTY1MDUwNzY1MjAVAgERGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA","emoji":"\uD83D\uDE00"}""", "\uD83D\uDE00")]
    [InlineData("""{"message_id":"wamid.HBgLMTY1MDUwNzY1MjAVAgERGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}""", null)]
    public void Reaction_and_its_removal(string reaction, string? emoji)
    {
        var e = Single<CloudApiReactionEvent>("""{"from":"16505551234","id":"wamid.reaction","timestamp":"1744344496","type":"reaction","reaction":""" + reaction + "}");

        Assert.Equal(("wamid.HBgLMTY1MDUwNzY1MjAVAgERGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA", emoji), (e.ReactedMessageId, e.Emoji));
    }

    [Fact]
    public void Forwarded_text_reply()
    {
        var e = Single<CloudApiMessageEvent>("""{"context":{"forwarded":true},"from":"16505551234","id":"wamid.fwd","timestamp":"1744344496","text":{"body":"look at this"},"type":"text"}""");

        Assert.Equal((typeof(CloudApiMessageEvent), "look at this", true, (string?)null), (e.GetType(), e.Text, e.IsForwarded, e.ReplyToMessageId));
    }

    [Theory]
    [InlineData("""{"from":"16505551234","id":"wamid.order","timestamp":"1744344496","type":"order","order":{"catalog_id":"194836987003835","text":"Please deliver by Friday","product_items":[{"product_retailer_id":"di9ozbzfi4","quantity":2,"item_price":30,"currency":"USD"}]}}""", "order", null, null)]
    [InlineData("""{"from":"16505551234","id":"wamid.system","timestamp":"1744344496","type":"system","system":{"body":"User Sheena Nelson changed from 16505551234 to 16505550000","wa_id":"16505550000","type":"user_changed_number"}}""", "system", "User Sheena Nelson changed from 16505551234 to 16505550000", null)]
    [InlineData("""{"from":"16505551234","id":"wamid.unsupported","timestamp":"1744344496","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}]}""", "unsupported", null, 131051)]
    public void Order_system_and_unsupported_are_the_generic_event_with_the_raw_message(string message, string type, string? text, int? errorCode)
    {
        var e = Single<CloudApiOtherMessageEvent>(message);

        Assert.Equal((type, text, errorCode), (e.Type, e.Text, e.ErrorCode));
        using var raw = JsonDocument.Parse(e.Json);
        Assert.Equal("wamid." + type, raw.RootElement.GetProperty("id").GetString());
        if (errorCode is not null)
        {
            Assert.Equal("131051: Message type unknown (Message type is currently not supported.)", e.Error);
        }
    }

    [Fact]
    public void Status_with_conversation_and_pricing()
    {
        var change = Parse("""{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA","status":"delivered","timestamp":"1750263773","recipient_id":"16505551234","conversation":{"id":"6ceb9d929c0e2bcaa5f8e3a3ba8d5d0b","expiration_timestamp":"1750350180","origin":{"type":"marketing"}},"pricing":{"billable":true,"pricing_model":"PMP","category":"marketing"}}]}""");

        var e = Assert.IsType<CloudApiReceiptEvent>(Assert.Single(change));
        Assert.Equal((ReceiptStatus.Delivered, "16505551234", "6ceb9d929c0e2bcaa5f8e3a3ba8d5d0b", "marketing"), (e.Status, e.Recipient, e.ConversationId, e.ConversationCategory));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1750350180), e.ConversationExpiresAt);
        Assert.Equal((true, "PMP", "marketing"), (e.Billable, e.PricingModel, e.PricingCategory));
    }

    [Fact]
    public void Failed_status_carries_the_first_error()
    {
        var change = Parse("""{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.failed","status":"failed","timestamp":"1750263773","recipient_id":"16505551234","errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"Message Undeliverable."}}]}]}""");

        var e = Assert.IsType<CloudApiReceiptEvent>(Assert.Single(change));
        Assert.Equal((ReceiptStatus.Failed, 131026, "131026: Message undeliverable (Message Undeliverable.)"), (e.Status, e.ErrorCode, e.Error));
        Assert.Null(e.Billable);
    }

    [Fact]
    public void Change_level_errors_are_error_events()
    {
        var change = Parse("""{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"errors":[{"code":130429,"title":"Rate limit hit","message":"(#130429) Rate limit hit","error_data":{"details":"Cloud API message throughput has been reached."}}]}""");

        var e = Assert.IsType<CloudApiWebhookErrorEvent>(Assert.Single(change));
        Assert.Equal((Phone, 130429, "130429: Rate limit hit (Cloud API message throughput has been reached.)", ReceivedAt), (e.PhoneNumberId, e.Code, e.Error, e.Timestamp));
    }

    [Fact]
    public void A_change_without_a_number_a_message_without_an_id_and_a_deleted_status_yield_nothing()
    {
        Assert.Empty(Parse("""{"event":"APPROVED","message_template_id":594425479261596}"""));
        var change = Parse("""{"metadata":{"phone_number_id":"106540352242922"},"messages":[{"from":"1","type":"text","text":{"body":"x"}}],"statuses":[{"id":"wamid.x","status":"deleted"}]}""");
        Assert.Empty(change);
    }

    [Fact]
    public void A_bad_timestamp_falls_back_to_the_time_received()
    {
        var e = Single<CloudApiMessageEvent>("""{"from":"16505551234","id":"wamid.t","timestamp":"soon","type":"text","text":{"body":"x"}}""");

        Assert.Equal(ReceivedAt, e.Timestamp);
    }

    private static T Single<T>(string message)
        where T : CloudApiMessageEvent
    {
        var change = Parse("""{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[""" + message + "]}");
        return Assert.IsType<T>(Assert.Single(change));
    }

    private static List<TenantEvent> Parse(string value)
    {
        using var document = JsonDocument.Parse(value);
        return InboundMessageParser.Parse(document.RootElement, ReceivedAt);
    }
}
