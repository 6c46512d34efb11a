using Microsoft.Extensions.Options;
using MultiTenant.Clients;
using MultiTenant.Inbox;
using MultiTenant.Media;
using MultiTenant.Wuzapi.Users;

namespace MultiTenant.Wuzapi.Client;

/// <summary>What every tenant's <see cref="WuzapiClient"/> shares on a host (DI singletons).</summary>
internal sealed class WuzapiServices(
    EngineUsers users,
    TenantPairingBoard pairing,
    ITenantInbox inbox,
    IEnumerable<IInboxEventDecoder> decoders,
    IOptions<InboxDeliveryOptions> delivery,
    InboxMetrics inboxMetrics,
    IOptions<WuzapiOptions> options,
    IMediaStore? media = null)
{
    public EngineUsers Users => users;

    public TenantPairingBoard Pairing => pairing;

    public WuzapiOptions Options => options.Value;

    public IMediaStore? Media => media;

    /// <summary>A started consumer of the tenant's inbox for the run <paramref name="context"/> belongs to.</summary>
    public TenantInboxConsumer StartConsumer(TenantClientContext context)
    {
        var consumer = new TenantInboxConsumer(inbox, decoders, context, delivery.Value, inboxMetrics);
        consumer.Start();
        return consumer;
    }
}

/// <summary>
/// Creates each tenant's <see cref="WuzapiClient"/>; the engine user is ensured at every connect. Registered by <c>UseWuzapi()</c>.
/// Declares the kinds wuzapi sends (<see cref="ITenantClientMessageKinds"/>): text, image, audio, document, video, sticker (by an id
/// of the tenant's media store, not a link), location, one contact and reactions, so the tenant API answers any other kind 422 and a
/// media link or several contacts 400 before the engine is called.
/// </summary>
internal sealed class WuzapiClientFactory(WuzapiServices services) : ITenantClientFactory, ITenantClientMessageKinds
{
    private static readonly HashSet<string> Kinds = new(StringComparer.Ordinal)
    {
        "text", "image", "audio", "document", "video", "sticker", "location", "contacts", "reaction",
    };

    public bool CanSend(string kind) => Kinds.Contains(kind);

    public void Validate(OutboundMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        switch (message.Content)
        {
            case MediaContent { Source.Id: null }:
                throw new InvalidMessageException("content.link", "wuzapi sends media files from the tenant's media store only (an id), not links.");
            case ContactsContent { Contacts.Count: not 1 }:
                throw new InvalidMessageException("content.contacts", "wuzapi sends exactly one contact per message.");
        }
    }

    public ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ValueTask.FromResult<ITenantClient>(new WuzapiClient(context, services));
    }
}
