using Microsoft.Extensions.Options;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Diagnostics;
using MultiTenant.CloudApi.Graph;
using MultiTenant.CloudApi.Routing;

namespace MultiTenant.CloudApi.Client;

/// <summary>
/// Creates each tenant's <see cref="CloudApiClient"/> from the credentials in its state store, claims the tenant's phone number
/// for webhook routing and registers the running client. Registered by <c>UseCloudApi()</c>.
/// </summary>
internal sealed class CloudApiClientFactory(
    GraphApiClient graph,
    IOptions<CloudApiOptions> options,
    CloudApiTenantDirectory directory,
    CloudApiMetrics metrics,
    CredentialStorage storage) : ITenantClientFactory
{
    public const string NoCredentialsMessage =
        "No Cloud API credentials are set for this tenant. Set them (PUT /api/tenants/{business_id}/cloud-api/credentials, or ICloudApiCredentialStore.SetAsync), then start the tenant again.";

    public static string NumberInUseMessage(string phoneNumberId, CloudApiTenantDirectory directory) =>
        directory.TryGetOwner(phoneNumberId, out var owner)
            ? $"The phone number id {phoneNumberId} already belongs to tenant {owner.Value} on this host; one number belongs to one tenant."
            : $"The phone number id {phoneNumberId} already belongs to another tenant on this host.";

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

        // Rebuilds the phone number index as tenants start (it lives in memory).
        if (!directory.Claim(context.BusinessId, found.Credentials.PhoneNumberId, throwOnConflict: false))
        {
            throw new TenantFatalException(TenantFatalReason.Other, NumberInUseMessage(found.Credentials.PhoneNumberId, directory));
        }

        if (found.Legacy)
        {
            // Written by an earlier version with the token in clear: rewritten encrypted (same time of change) through the run's own
            // store, so a fleet's fencing applies. The "next write" of a document that nobody sets again.
            await storage.WriteAsync(context.State, found.Credentials, found.UpdatedAt, cancellationToken).ConfigureAwait(false);
            Log.CredentialsEncrypted(context.Logger, context.BusinessId.Value);
        }

        var client = new CloudApiClient(context, found.Credentials, graph, options.Value, directory, metrics, storage);
        directory.AddClient(client);
        return client;
    }
}
