using Microsoft.Extensions.Options;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Diagnostics;
using MultiTenant.CloudApi.Graph;
using MultiTenant.CloudApi.Routing;

namespace MultiTenant.CloudApi.Client;

/// <summary>
/// Creates each tenant's <see cref="CloudApiClient"/> from the credentials in its state store and registers the running client (the
/// client claims its phone number in the shared index when it connects). Registered by <c>UseCloudApi()</c>. Its clients send every
/// message kind (<see cref="ITenantClientMessageKinds"/>) within Meta's documented limits (<see cref="MessageValidator"/>), which the
/// coordinator checks before a send reaches a client.
/// </summary>
internal sealed class CloudApiClientFactory(
    GraphApiClient graph,
    IOptions<CloudApiOptions> options,
    CloudApiTenantDirectory directory,
    CloudApiMetrics metrics,
    CredentialStorage storage,
    CloudApiInbox inbox) : ITenantClientFactory, ITenantClientMessageKinds
{
    public const string NoCredentialsMessage =
        "No Cloud API credentials are set for this tenant. Set them (PUT /api/tenants/{business_id}/cloud-api/credentials, or ICloudApiCredentialStore.SetAsync), then start the tenant again.";

    /// <summary>Says a number is taken without naming the tenant that holds it (a tenant must not learn another's id).</summary>
    public static string NumberInUseMessage(string phoneNumberId) =>
        $"The phone number id {phoneNumberId} already belongs to another tenant; one number belongs to one tenant.";

    /// <summary>Every kind of <see cref="MessageContent"/>: text, template, image, document, audio, video, sticker, location, contacts,
    /// reaction and interactive.</summary>
    public bool CanSend(string kind) => kind is "text" or "template" or "image" or "document" or "audio" or "video" or "sticker"
        or "location" or "contacts" or "reaction" or "interactive";

    /// <inheritdoc/>
    public void Validate(OutboundMessage message) => MessageValidator.Validate(message);

    public async ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        StoredCredentialsRead? stored;
        try
        {
            stored = await storage.ReadAsync(context.State, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException ex)
        {
            throw new TenantFatalException(TenantFatalReason.NotPaired, ex.Message);
        }

        if (stored is not { } found)
        {
            throw new TenantFatalException(TenantFatalReason.NotPaired, NoCredentialsMessage);
        }

        if (found.Legacy)
        {
            // Written by an earlier version with the token in clear: rewritten encrypted (same time of change) through the run's own
            // store, so a fleet's fencing applies. The "next write" of a document that nobody sets again.
            await storage.WriteAsync(context.State, found.Credentials, found.UpdatedAt, cancellationToken).ConfigureAwait(false);
            Log.CredentialsEncrypted(context.Logger, context.BusinessId.Value);
        }

        var client = new CloudApiClient(context, found.Credentials, graph, options.Value, directory, metrics, storage, inbox);
        directory.AddClient(client);
        return client;
    }
}
