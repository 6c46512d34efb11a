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

/// <summary>Creates each tenant's <see cref="WuzapiClient"/>; the engine user is ensured at every connect. Registered by <c>UseWuzapi()</c>.</summary>
internal sealed class WuzapiClientFactory(WuzapiServices services) : ITenantClientFactory
{
    public ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ValueTask.FromResult<ITenantClient>(new WuzapiClient(context, services));
    }
}
