using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MultiTenant.CloudApi;
using MultiTenant.CloudApi.Endpoints;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Maps Meta's webhook. The tenants' credentials endpoints are not mapped here: <c>UseCloudApi()</c> contributes them to the tenant
/// API's protected group, so <c>MapTenantApi()</c> maps them under the same API key protection.
/// </summary>
public static class CloudApiEndpointRouteBuilderExtensions
{
    /// <summary>The default webhook path: <c>/webhooks/whatsapp</c>.</summary>
    public const string DefaultWebhookPath = "/webhooks/whatsapp";

    /// <summary>
    /// Maps Meta's webhook at <paramref name="pattern"/> (default <c>/webhooks/whatsapp</c>): <c>GET</c> answers the verification
    /// handshake (<c>hub.mode=subscribe</c>, <c>hub.verify_token</c> matching <see cref="CloudApiOptions.VerifyToken"/> → 200 with
    /// <c>hub.challenge</c>, else 403); <c>POST</c> checks <c>X-Hub-Signature-256</c> against <see cref="CloudApiOptions.AppSecret"/>
    /// before parsing anything (401 when missing or wrong), then stores each message and status in the durable inbox of the tenant that
    /// holds the change's <c>phone_number_id</c> (any host accepts any tenant's delivery; the host that runs the tenant delivers it to
    /// the handlers) and answers 200 once committed. Redeliveries are absorbed by the inbox key. Items for a number no tenant holds
    /// are kept (at most <see cref="CloudApiOptions.UnroutedCapacity"/>) until a tenant claims it. 503 with Retry-After only when the
    /// store is unreachable or that bound is reached.
    /// </summary>
    /// <remarks>Do not require authorization on this group: Meta authenticates with the signature. Rate limits may be added.
    /// <para>Several Meta apps (<see cref="CloudApiOptions.Apps"/>): each is mapped at <c>{pattern}/{app_id}</c> as well, verified with
    /// that app's secrets (<see cref="CloudApiMetaApp.AppSecret"/> and, during a rotation, <see cref="CloudApiMetaApp.PreviousAppSecret"/>)
    /// and verify token; a delivery signed with another app's secret gets 401, an unknown app id 404. <see cref="CloudApiOptions.PreviousAppSecret"/>
    /// does the same for the default app at <c>{pattern}</c>.</para></remarks>
    /// <returns>The route group, for further conventions.</returns>
    /// <exception cref="InvalidOperationException"><c>UseCloudApi()</c> was not called, or neither the app secret and verify token nor any app is configured.</exception>
    public static RouteGroupBuilder MapCloudApiWebhook(this IEndpointRouteBuilder endpoints, string pattern = DefaultWebhookPath)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        var services = endpoints.ServiceProvider;
        EnsureServices(services, nameof(MapCloudApiWebhook));
        var options = services.GetRequiredService<IOptions<CloudApiOptions>>().Value;
        if (string.IsNullOrWhiteSpace(options.AppSecret) && options.Apps.Count == 0)
        {
            throw new InvalidOperationException(
                $"MapCloudApiWebhook() needs the Meta app's secret to verify webhook signatures: set {CloudApiOptions.SectionName}:{nameof(CloudApiOptions.AppSecret)} (for example with the environment variable WhatsAppTenants__CloudApi__AppSecret).");
        }

        if (string.IsNullOrWhiteSpace(options.VerifyToken) && options.Apps.Count == 0)
        {
            throw new InvalidOperationException(
                $"MapCloudApiWebhook() needs the verify token of the webhook handshake: set {CloudApiOptions.SectionName}:{nameof(CloudApiOptions.VerifyToken)} (for example with the environment variable WhatsAppTenants__CloudApi__VerifyToken).");
        }

        var endpoint = services.GetRequiredService<WebhookEndpoint>();
        var group = endpoints.MapGroup(pattern);
        group.MapGet(string.Empty, (RequestDelegate)endpoint.VerifyAsync).WithName("CloudApiWebhookVerification");
        group.MapPost(string.Empty, (RequestDelegate)endpoint.ReceiveAsync).WithName("CloudApiWebhookDelivery");
        if (options.Apps.Count > 0)
        {
            // One callback URL per Meta app ({pattern}/{app_id}), each checked against its own app's secrets and verify token.
            string app = "/{" + WebhookEndpoint.AppIdRouteValue + "}";
            group.MapGet(app, (RequestDelegate)endpoint.VerifyAsync).WithName("CloudApiAppWebhookVerification");
            group.MapPost(app, (RequestDelegate)endpoint.ReceiveAsync).WithName("CloudApiAppWebhookDelivery");
        }
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
