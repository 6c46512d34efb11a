using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MultiTenant.CloudApi;
using MultiTenant.CloudApi.Endpoints;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Cloud API's endpoints: Meta's webhook and the tenants' credentials.</summary>
public static class CloudApiEndpointRouteBuilderExtensions
{
    /// <summary>The default webhook path: <c>/webhooks/whatsapp</c>.</summary>
    public const string DefaultWebhookPath = "/webhooks/whatsapp";

    /// <summary>The default prefix of the credentials endpoints: <c>/api/tenants</c> (as the tenant API).</summary>
    public const string DefaultTenantsPrefix = "/api/tenants";

    /// <summary>
    /// Maps Meta's webhook at <paramref name="pattern"/> (default <c>/webhooks/whatsapp</c>): <c>GET</c> answers the verification
    /// handshake (<c>hub.mode=subscribe</c>, <c>hub.verify_token</c> matching <see cref="CloudApiOptions.VerifyToken"/> → 200 with
    /// <c>hub.challenge</c>, else 403); <c>POST</c> checks <c>X-Hub-Signature-256</c> against <see cref="CloudApiOptions.AppSecret"/>
    /// before parsing anything (401 when missing or wrong), then routes each change by <c>phone_number_id</c> to its tenant's event
    /// channel and answers 200 once handled (503 with Retry-After when part of it must be delivered again: the tenant does not run
    /// on this host, or its handlers took longer than <see cref="CloudApiOptions.WebhookHandlingTimeout"/>). Deliveries for numbers
    /// of no known tenant get 200 and are counted and logged.
    /// </summary>
    /// <remarks>Do not require authorization on this group: Meta authenticates with the signature. Rate limits may be added.</remarks>
    /// <returns>The route group, for further conventions.</returns>
    /// <exception cref="InvalidOperationException"><c>UseCloudApi()</c> was not called, or the app secret or verify token is not configured.</exception>
    public static RouteGroupBuilder MapCloudApiWebhook(this IEndpointRouteBuilder endpoints, string pattern = DefaultWebhookPath)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        var services = endpoints.ServiceProvider;
        EnsureServices(services, nameof(MapCloudApiWebhook));
        var options = services.GetRequiredService<IOptions<CloudApiOptions>>().Value;
        if (string.IsNullOrWhiteSpace(options.AppSecret))
        {
            throw new InvalidOperationException(
                $"MapCloudApiWebhook() needs the Meta app's secret to verify webhook signatures: set {CloudApiOptions.SectionName}:{nameof(CloudApiOptions.AppSecret)} (for example with the environment variable WhatsAppTenants__CloudApi__AppSecret).");
        }

        if (string.IsNullOrWhiteSpace(options.VerifyToken))
        {
            throw new InvalidOperationException(
                $"MapCloudApiWebhook() needs the verify token of the webhook handshake: set {CloudApiOptions.SectionName}:{nameof(CloudApiOptions.VerifyToken)} (for example with the environment variable WhatsAppTenants__CloudApi__VerifyToken).");
        }

        var endpoint = services.GetRequiredService<WebhookEndpoint>();
        var group = endpoints.MapGroup(pattern);
        group.MapGet(string.Empty, (RequestDelegate)endpoint.VerifyAsync).WithName("CloudApiWebhookVerification");
        group.MapPost(string.Empty, (RequestDelegate)endpoint.ReceiveAsync).WithName("CloudApiWebhookDelivery");
        return group;
    }

    /// <summary>
    /// Maps the tenants' credentials under <paramref name="prefix"/> (default <c>/api/tenants</c>):
    /// <c>PUT {prefix}/{business_id}/cloud-api/credentials</c> with <c>{"phone_number_id":"…","access_token":"…","waba_id":"…"}</c>
    /// (<c>waba_id</c> optional) → 204, 400 invalid id or body, 409 number used by another tenant, 413 too large, 415 not JSON;
    /// <c>GET</c> → 200 <c>{"business_id","phone_number_id","waba_id","has_access_token","updated_at"}</c> (never the token) or 404;
    /// <c>DELETE</c> → 204 or 404. Errors are RFC 9457 problem details.
    /// </summary>
    /// <remarks>These endpoints take secrets: add <c>RequireAuthorization()</c> to the returned group, as for the tenant API.</remarks>
    /// <returns>The route group (<c>{prefix}/{business_id}/cloud-api</c>), for further conventions.</returns>
    /// <exception cref="InvalidOperationException"><c>UseCloudApi()</c> was not called.</exception>
    public static RouteGroupBuilder MapCloudApiEndpoints(this IEndpointRouteBuilder endpoints, string prefix = DefaultTenantsPrefix)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        EnsureServices(endpoints.ServiceProvider, nameof(MapCloudApiEndpoints));
        var group = endpoints.MapGroup(prefix.TrimEnd('/') + "/{business_id}/cloud-api");
        group.MapPut("/credentials", (RequestDelegate)CredentialsEndpoints.PutAsync).WithName("PutCloudApiCredentials");
        group.MapGet("/credentials", (RequestDelegate)CredentialsEndpoints.GetAsync).WithName("GetCloudApiCredentials");
        group.MapDelete("/credentials", (RequestDelegate)CredentialsEndpoints.DeleteAsync).WithName("DeleteCloudApiCredentials");
        return group;
    }

    private static void EnsureServices(IServiceProvider services, string method)
    {
        if (services.GetService<ICloudApiCredentialStore>() is null)
        {
            throw new InvalidOperationException(
                $"{method}() needs the Cloud API services. Call services.AddWhatsAppTenants().UseCloudApi() when configuring services.");
        }
    }
}
