using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Secrets;
using MultiTenant.Webhooks;

namespace MultiTenant.AspNetCore.Api;

/// <summary>
/// <c>PUT|GET|DELETE {prefix}/{business_id}/webhooks</c>: the tenant's outbound webhook subscription. The secret is stored protected
/// (<see cref="ITenantSecretProtector"/>) and never returned, except once when the server generated it.
/// </summary>
internal static class TenantWebhookEndpoints
{
    private const string Tag = "Webhooks";
    private const int MinSecretLength = 16;
    private const int MaxSecretLength = 256;

    /// <summary>Maps the three endpoints on the API's group (inside its authentication and tenant-scope policy).</summary>
    public static void Map(RouteGroupBuilder group, string tenantRoute, Func<RouteHandlerBuilder, string, RouteHandlerBuilder> conventions)
    {
        string route = tenantRoute + "/webhooks";
        conventions(group.MapPut(route, PutAsync), "PutWebhook")
            .WithSummary("Creates or replaces the tenant's webhook subscription (URL, event types, secret).")
            .WithTags(Tag);
        conventions(group.MapGet(route, GetAsync), "GetWebhook")
            .WithSummary("Gets the tenant's webhook subscription, without its secret.")
            .WithTags(Tag);
        conventions(group.MapDelete(route, DeleteAsync), "DeleteWebhook")
            .WithSummary("Deletes the tenant's webhook subscription; events not delivered yet become dead letters.")
            .WithTags(Tag);
    }

    /// <summary>
    /// 201 (created) or 200 (replaced) <c>{"id","business_id","url","event_types","created_at","updated_at"}</c>, plus <c>"secret"</c>
    /// once when the body had none and the server generated it; 400 invalid body, URL (server-side request forgery checks included) or
    /// event types; 413; 415.
    /// </summary>
    public static async Task<Results<Created<WebhookSubscriptionResponse>, Ok<WebhookSubscriptionResponse>, ProblemHttpResult>> PutAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        var services = context.RequestServices;
        var apiOptions = TenantApiRequestOptions.Get(context);
        var options = services.GetRequiredService<IOptions<WebhookDeliveryOptions>>().Value;
        var body = await StrictJsonBody.ReadAsync(context, WebhookPutBody.Shape, apiOptions.MaxRequestBodySize).ConfigureAwait(false);
        if (body.Problem is { } refused)
        {
            return refused;
        }

        var put = WebhookPutBody.From(body);
        if (await CheckAsync(put, options.AllowPrivateTargets, context.RequestAborted).ConfigureAwait(false) is { } invalid)
        {
            return TypedProblems.Problem(context, StatusCodes.Status400BadRequest, invalid);
        }

        string? generated = put.Secret is null ? "whsec_" + Base64Url(RandomNumberGenerator.GetBytes(32)) : null;
        byte[] secret = Encoding.UTF8.GetBytes(put.Secret ?? generated!);
        byte[] protectedSecret = services.GetRequiredService<ITenantSecretProtector>().Protect(tenant, WebhookSubscriptions.SecretPurpose, secret);
        CryptographicOperations.ZeroMemory(secret);

        var store = services.GetRequiredService<ITenantWebhookSubscriptionStore>();
        bool existed = await store.GetAsync(tenant, context.RequestAborted).ConfigureAwait(false) is not null;
        var stored = await store.PutAsync(tenant, put.Url!, put.EventTypes, protectedSecret, context.RequestAborted).ConfigureAwait(false);
        var response = WebhookSubscriptionResponse.From(stored, generated);
        context.Response.Headers.CacheControl = "no-store";
        return existed
            ? TypedResults.Ok(response)
            : TypedResults.Created($"{context.Request.PathBase}{context.Request.Path.Value?.TrimEnd('/')}", response);
    }

    /// <summary>200 the subscription without its secret; 404 when the tenant has none.</summary>
    public static async Task<Results<Ok<WebhookSubscriptionResponse>, ProblemHttpResult>> GetAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        var stored = await context.RequestServices.GetRequiredService<ITenantWebhookSubscriptionStore>()
            .GetAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        return stored is null
            ? TypedProblems.Problem(context, StatusCodes.Status404NotFound, $"Tenant '{tenant}' has no webhook subscription.")
            : TypedResults.Ok(WebhookSubscriptionResponse.From(stored, generatedSecret: null));
    }

    /// <summary>204; 404 when the tenant has no subscription.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        bool deleted = await context.RequestServices.GetRequiredService<ITenantWebhookSubscriptionStore>()
            .DeleteAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        return deleted
            ? TypedResults.NoContent()
            : TypedProblems.Problem(context, StatusCodes.Status404NotFound, $"Tenant '{tenant}' has no webhook subscription.");
    }

    /// <summary>
    /// What is wrong with the request, or <see langword="null"/>: URL (every address its host resolves to now; a name that does not
    /// resolve yet is accepted, since each delivery checks again), types, secret.
    /// </summary>
    private static async Task<string?> CheckAsync(WebhookPutBody put, bool allowPrivateTargets, CancellationToken cancellationToken)
    {
        if (put.Url is null)
        {
            return "'url' must be an absolute http or https URL, such as 'https://example.com/hooks/whatsapp'.";
        }

        if (WebhookUrlPolicy.Validate(put.Url, allowPrivateTargets) is { } invalidUrl)
        {
            return invalidUrl;
        }

        if (WebhookEventTypes.Validate(put.EventTypes) is { } invalidTypes)
        {
            return "'event_types': " + invalidTypes;
        }

        if (put.Secret is { Length: < MinSecretLength or > MaxSecretLength })
        {
            return $"'secret' must be {MinSecretLength} to {MaxSecretLength} characters (or left out, and the server generates one).";
        }

        try
        {
            await WebhookUrlPolicy.ResolveAsync(put.Url.IdnHost, allowPrivateTargets, resolve: null, cancellationToken).ConfigureAwait(false);
        }
        catch (WebhookTargetRefusedException ex)
        {
            return ex.Message;
        }
        catch (SocketException)
        {
            // Not resolvable now (a receiver whose DNS comes later): accepted; every delivery resolves and checks again.
        }

        return null;
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>
/// The PUT body: <c>url</c> (required), <c>event_types</c> (an array of strings, default <c>["*"]</c>), <c>secret</c> (optional), read
/// with <see cref="StrictJsonBody"/> (unknown or repeated members, depth, size and media type refused as for every body of the API).
/// </summary>
internal sealed class WebhookPutBody
{
    public static readonly StrictJsonBodyShape Shape = new(
        """{"url":"https://example.com/hooks/whatsapp","event_types":["message","receipt"],"secret":"at least 16 characters"}""",
        ["url"],
        ["event_types", "secret"],
        stringArrays: ["event_types"]);

    /// <summary>The <c>url</c>; <see langword="null"/> when the string is not an absolute URI.</summary>
    public Uri? Url { get; private init; }

    public IReadOnlyList<string> EventTypes { get; private init; } = [WebhookEventTypes.All];

    public string? Secret { get; private init; }

    /// <summary>The body of an accepted <see cref="StrictJsonBody"/> of <see cref="Shape"/>.</summary>
    public static WebhookPutBody From(StrictJsonBody body) => new()
    {
        Url = Uri.TryCreate(body.GetString("url"), UriKind.Absolute, out var url) ? url : null,
        EventTypes = body.GetStrings("event_types") ?? [WebhookEventTypes.All],
        Secret = body.GetString("secret"),
    };
}

/// <summary>A webhook subscription as the API shows it: never the secret, except a generated one in the PUT that made it.</summary>
internal sealed class WebhookSubscriptionResponse
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("business_id")]
    public required string BusinessId { get; init; }

    [JsonPropertyName("url")]
    public required string Url { get; init; }

    [JsonPropertyName("event_types")]
    public required IReadOnlyList<string> EventTypes { get; init; }

    [JsonPropertyName("created_at")]
    public required string CreatedAt { get; init; }

    [JsonPropertyName("updated_at")]
    public required string UpdatedAt { get; init; }

    [JsonPropertyName("secret")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Secret { get; init; }

    public static WebhookSubscriptionResponse From(WebhookSubscription subscription, string? generatedSecret) => new()
    {
        Id = subscription.Id.ToString("D"),
        BusinessId = subscription.Tenant.Value,
        Url = subscription.Url.OriginalString,
        EventTypes = subscription.EventTypes,
        CreatedAt = Rfc3339.Format(subscription.CreatedAt),
        UpdatedAt = Rfc3339.Format(subscription.UpdatedAt),
        Secret = generatedSecret,
    };
}
