using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
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
    private const string Example = """{"url":"https://example.com/hooks/whatsapp","event_types":["message","receipt"],"secret":"at least 16 characters"}""";
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
        if (JsonObjectParser.CheckContentType(context.Request) is { } contentTypeError)
        {
            return TypedProblems.Problem(context, contentTypeError.StatusCode, contentTypeError.Detail);
        }

        WebhookPutBody put;
        try
        {
            using var body = await BoundedRequestBody.ReadAsync(context, apiOptions.MaxRequestBodySize).ConfigureAwait(false);
            if (WebhookPutBody.Parse(body.Span) is not { } parsed)
            {
                return TypedProblems.Problem(context, StatusCodes.Status400BadRequest, "The body must be a JSON object like " + Example + ".");
            }

            put = parsed;
        }
        catch (BadHttpRequestException ex)
        {
            return TypedProblems.Problem(context, ex.StatusCode, ex.Message);
        }

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
/// The PUT body: <c>url</c> (required), <c>event_types</c> (default <c>["*"]</c>), <c>secret</c> (optional). Its own parser rather than
/// <see cref="StrictJsonBody"/>, which reads string members only: <c>event_types</c> is an array.
/// </summary>
internal sealed class WebhookPutBody
{
    public Uri? Url { get; private set; }

    public List<string> EventTypes { get; private set; } = [WebhookEventTypes.All];

    public string? Secret { get; private set; }

    /// <summary>
    /// Parses a JSON object with exactly these members (no unknown or repeated ones, so a misspelt member is reported); an unusable
    /// <c>url</c> string gives a <see langword="null"/> <see cref="Url"/>. <see langword="null"/> when the document has another shape.
    /// </summary>
    public static WebhookPutBody? Parse(ReadOnlySpan<byte> json)
    {
        var result = new WebhookPutBody();
        bool hasUrl = false, hasTypes = false, hasSecret = false;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                reader.Read();
                switch (name)
                {
                    case "url" when !hasUrl && reader.TokenType == JsonTokenType.String:
                        hasUrl = true;
                        result.Url = Uri.TryCreate(reader.GetString(), UriKind.Absolute, out var url) ? url : null;
                        break;
                    case "secret" when !hasSecret && reader.TokenType == JsonTokenType.String:
                        hasSecret = true;
                        result.Secret = reader.GetString();
                        break;
                    case "event_types" when !hasTypes && reader.TokenType == JsonTokenType.StartArray:
                        hasTypes = true;
                        result.EventTypes = [];
                        while (reader.Read() && reader.TokenType == JsonTokenType.String)
                        {
                            result.EventTypes.Add(reader.GetString()!);
                        }

                        if (reader.TokenType != JsonTokenType.EndArray)
                        {
                            return null;
                        }

                        break;
                    default:
                        return null;
                }
            }

            return reader.TokenType == JsonTokenType.EndObject && hasUrl && !reader.Read() ? result : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null; // not JSON, or a string that is not valid UTF-8 / Unicode (GetString)
        }
    }
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
