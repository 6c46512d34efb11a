using System.Text.Json;
using MultiTenant.Events;
using MultiTenant.Inbox;

namespace MultiTenant.CloudApi.Webhooks;

/// <summary>
/// Decodes the Cloud API's inbox items (source <see cref="Source"/>): each payload is a webhook <c>value</c> with exactly one message
/// or status, as <see cref="WebhookProcessor"/> stored it, turned back into its event by <see cref="InboundMessageParser"/>.
/// </summary>
internal sealed class CloudApiInboxDecoder : IInboxEventDecoder
{
    /// <summary>The inbox source and address provider of the Cloud API: <c>cloudapi</c>.</summary>
    public const string SourceName = "cloudapi";

    /// <summary>The kind of an item holding a message.</summary>
    public const string MessageKind = "message";

    /// <summary>The kind of an item holding a status update.</summary>
    public const string StatusKind = "status";

    public string Source => SourceName;

    public TenantEvent? Decode(InboxItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        using var document = JsonDocument.Parse(item.Payload);
        var events = InboundMessageParser.Parse(document.RootElement, item.ReceivedAt);
        return events is [var single] ? single : null;
    }

    /// <summary>The address of a business phone number id in the <see cref="ITenantAddressIndex"/>.</summary>
    public static TenantAddress Address(string phoneNumberId) => new(SourceName, phoneNumberId);
}
