using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.Wuzapi.Webhooks;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the wuzapi engines' webhook.</summary>
public static class WuzapiEndpointRouteBuilderExtensions
{
    /// <summary>The default webhook path: <c>/webhooks/wuzapi</c>.</summary>
    public const string DefaultWebhookPath = "/webhooks/wuzapi";

    /// <summary>
    /// Maps the engines' webhook at <c>{pattern}/{business_id}</c> (default <c>/webhooks/wuzapi/{business_id}</c>; each tenant's engine
    /// user is created with that URL under <c>WhatsAppTenants:Wuzapi:WebhookBaseUrl</c>). <c>POST</c> checks <c>x-hmac-signature</c>
    /// (hex HMAC-SHA256 of the raw body with the tenant's key, set at the engine through <c>/session/hmac/config</c>) before parsing
    /// anything, then stores the event in the tenant's durable inbox and answers 200 once committed; the host that runs the tenant
    /// delivers it to the handlers (so any host of a fleet may receive any tenant's webhook). 401 for an unknown tenant or a missing or
    /// wrong signature, 413 for a body over <c>MaxWebhookBodySize</c>, 400 for a signed body that is not an event, 503 with
    /// Retry-After when the store is unreachable.
    /// </summary>
    /// <remarks>Do not require authorization on this group: the engine authenticates with the signature. Rate limits may be added.</remarks>
    /// <returns>The route group, for further conventions.</returns>
    /// <exception cref="InvalidOperationException"><c>UseWuzapi()</c> was not called.</exception>
    public static RouteGroupBuilder MapWuzapiWebhook(this IEndpointRouteBuilder endpoints, string pattern = DefaultWebhookPath)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        var endpoint = endpoints.ServiceProvider.GetService<WuzapiWebhookEndpoint>() ?? throw new InvalidOperationException(
            "MapWuzapiWebhook() needs the wuzapi services. Call services.AddWhatsAppTenants().UseWuzapi() when configuring services.");
        var group = endpoints.MapGroup(pattern);
        group.MapPost("/{" + WuzapiWebhookEndpoint.BusinessIdRouteValue + "}", (RequestDelegate)endpoint.ReceiveAsync).WithName("WuzapiWebhookDelivery");
        return group;
    }
}
