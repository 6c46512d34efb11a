using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Http;
using MultiTenant.AspNetCore.Webhooks;
using MultiTenant.Webhooks;

namespace MultiTenant.AspNetCore.Api;

/// <summary>
/// <c>GET {prefix}/{business_id}/webhooks/dead-letters</c>, <c>POST …/webhooks/dead-letters/{id}/retry</c> and
/// <c>POST …/webhooks/dead-letters/retry</c>: the tenant's outbound webhook events that ran out of attempts
/// (<see cref="WebhookDeliveryOptions.RetryPeriod"/>), were refused as a request forgery, or were left when the subscription was
/// deleted, and queueing them again (in their place in the tenant's order). The same shape, keys and tenant scope as the inbox's dead
/// letters (<see cref="DeadLetterHandlers"/>); retries are counted on <c>whatsmeow.webhook.retries</c>.
/// </summary>
internal static class WebhookDeadLetterEndpoints
{
    private const string Tag = "Webhooks";

    /// <summary>Maps the three endpoints on the API's group (inside its authentication and tenant-scope policy).</summary>
    public static void Map(RouteGroupBuilder group, string tenantRoute, Func<RouteHandlerBuilder, string, RouteHandlerBuilder> conventions)
    {
        string route = tenantRoute + "/webhooks/dead-letters";
        conventions(group.MapGet(route, ListAsync), "ListWebhookDeadLetters")
            .WithSummary("Lists the tenant's outbound webhook dead letters in order (paged with ?after= and ?limit=).")
            .WithTags(Tag);
        conventions(group.MapPost(route + "/{" + DeadLetterHandlers.ItemRouteValue + "}/retry", RetryAsync), "RetryWebhookDeadLetter")
            .WithSummary("Queues one outbound webhook dead letter again; it is delivered in its place in the tenant's order.")
            .WithTags(Tag);
        conventions(group.MapPost(route + "/retry", RetryAllAsync), "RetryAllWebhookDeadLetters")
            .WithSummary("Queues every outbound webhook dead letter of the tenant again.")
            .WithTags(Tag);
    }

    /// <summary>
    /// 200 <c>{"items":[{"id","event_id","event_type","created_at","attempts","last_error"}],"next_after"}</c> (<c>next_after</c> set
    /// when more may follow: pass it as <c>?after=</c>); 400 for a bad <c>limit</c> (1–1000, default 100) or <c>after</c>. Bodies are
    /// not returned (they hold message content; the event id names the event).
    /// </summary>
    public static async Task<Results<Ok<DeadLetterPage<WebhookDeadLetterResponse>>, ProblemHttpResult>> ListAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant,
        [FromQuery(Name = "limit")] string? limit,
        [FromQuery(Name = "after")] string? after,
        HttpContext context)
    {
        if (DeadLetterHandlers.ParsePage(context, limit, after, out int take, out long afterId) is { } invalid)
        {
            return invalid;
        }

        var items = await Outbox(context).ListDeadAsync(tenant, afterId, take, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(DeadLetterPage.From(items, take, WebhookDeadLetterResponse.From, static item => item.Id));
    }

    /// <summary>204 when the event is queued again; 400 for an id that is not a number, 404 when the tenant has no such dead letter.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> RetryAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant,
        [FromRoute(Name = DeadLetterHandlers.ItemRouteValue)] string item,
        HttpContext context)
    {
        if (DeadLetterHandlers.ParseItem(context, item, out long itemId) is { } invalid)
        {
            return invalid;
        }

        if (!await Outbox(context).RetryDeadAsync(tenant, itemId, context.RequestAborted).ConfigureAwait(false))
        {
            return TypedProblems.Problem(
                context, StatusCodes.Status404NotFound, $"Tenant '{tenant}' has no webhook dead letter {itemId.ToString(CultureInfo.InvariantCulture)}.");
        }

        Retried(context, tenant, 1);
        return TypedResults.NoContent();
    }

    /// <summary>200 <c>{"retried":n}</c>: every outbound webhook dead letter of the tenant is queued again.</summary>
    public static async Task<Ok<DeadLettersRetriedResponse>> RetryAllAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        int retried = await Outbox(context).RetryAllDeadAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        Retried(context, tenant, retried);
        return TypedResults.Ok(new DeadLettersRetriedResponse { Retried = retried });
    }

    /// <summary>Counts the retries and wakes the tenant's sender (on the host that owns the tenant; another owner's poll finds them).</summary>
    private static void Retried(HttpContext context, TenantId tenant, int count)
    {
        context.RequestServices.GetRequiredService<WebhookMetrics>().Retried(count);
        if (count > 0)
        {
            context.RequestServices.GetService<WebhookDispatcher>()?.Notify(tenant);
        }
    }

    private static ITenantWebhookOutbox Outbox(HttpContext context) => context.RequestServices.GetRequiredService<ITenantWebhookOutbox>();
}

/// <summary>One outbound webhook dead letter: <c>{"id","event_id","event_type","created_at","attempts","last_error"}</c>.</summary>
internal sealed class WebhookDeadLetterResponse
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("event_id")]
    public required string EventId { get; init; }

    [JsonPropertyName("event_type")]
    public required string EventType { get; init; }

    [JsonPropertyName("created_at")]
    public required string CreatedAt { get; init; }

    [JsonPropertyName("attempts")]
    public required int Attempts { get; init; }

    [JsonPropertyName("last_error")]
    public string? LastError { get; init; }

    public static WebhookDeadLetterResponse From(WebhookOutboxItem item) => new()
    {
        Id = item.Id.ToString(CultureInfo.InvariantCulture),
        EventId = item.EventId,
        EventType = item.EventType,
        CreatedAt = Rfc3339.Format(item.CreatedAt),
        Attempts = item.Attempts,
        LastError = item.LastError,
    };
}
