using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Inbox;

namespace MultiTenant.AspNetCore.Api;

/// <summary>
/// <c>GET {prefix}/{business_id}/dead-letters</c>, <c>POST {prefix}/{business_id}/dead-letters/{id}/retry</c> and
/// <c>POST {prefix}/{business_id}/dead-letters/retry</c>: the tenant's inbox items whose handlers failed
/// <see cref="InboxDeliveryOptions.MaxAttempts"/> times, and making them pending again (they keep their place in the tenant's order).
/// Mapped by <c>MapTenantApi()</c> in its protected group (tenant scope). Retries are counted on <c>whatsmeow.inbox.retries</c>.
/// </summary>
internal static class DeadLetterHandlers
{
    public const string ItemRouteValue = "id";
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    private const string Tag = "Dead letters";

    public static void Map(RouteGroupBuilder group, string tenantRoute, ILogger logger)
    {
        string route = tenantRoute + "/dead-letters";
        group.MapGet(route, ListAsync)
            .Typed("ListDeadLetters", logger)
            .WithSummary("Lists the tenant's dead letters in order (paged with ?after= and ?limit=).")
            .WithTags(Tag);

        group.MapPost(route + "/{" + ItemRouteValue + "}/retry", RetryAsync)
            .Typed("RetryDeadLetter", logger)
            .WithSummary("Makes one dead letter pending again; it is delivered again in its place in the tenant's order.")
            .WithTags(Tag);

        group.MapPost(route + "/retry", RetryAllAsync)
            .Typed("RetryAllDeadLetters", logger)
            .WithSummary("Makes every dead letter of the tenant pending again.")
            .WithTags(Tag);
    }

    /// <summary>
    /// 200 <c>{"items":[{"id","key","source","kind","received_at","attempts","last_error"}],"next_after"}</c> (<c>next_after</c> set when
    /// more may follow: pass it as <c>?after=</c>); 400 for a bad <c>limit</c> (1–1000, default 100) or <c>after</c>. Payloads are not
    /// returned (they may hold message content; the key names the provider's message).
    /// </summary>
    public static async Task<Results<Ok<DeadLetterPage<DeadLetterResponse>>, ProblemHttpResult>> ListAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant,
        [FromQuery(Name = "limit")] string? limit,
        [FromQuery(Name = "after")] string? after,
        HttpContext context)
    {
        if (ParsePage(context, limit, after, out int take, out long afterId) is { } invalid)
        {
            return invalid;
        }

        var items = await Inbox(context).ListDeadLettersAsync(tenant, take, afterId, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(DeadLetterPage.From(items, take, DeadLetterResponse.From, static item => item.Id));
    }

    /// <summary>204 when the dead letter is pending again; 400 for an id that is not a number, 404 when the tenant has no such dead letter.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> RetryAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant,
        [FromRoute(Name = ItemRouteValue)] string item,
        HttpContext context)
    {
        if (ParseItem(context, item, out long itemId) is { } invalid)
        {
            return invalid;
        }

        if (!await Inbox(context).RetryAsync(tenant, itemId, context.RequestAborted).ConfigureAwait(false))
        {
            return TypedProblems.Problem(context, StatusCodes.Status404NotFound, $"Tenant '{tenant}' has no dead letter {itemId.ToString(CultureInfo.InvariantCulture)}.");
        }

        context.RequestServices.GetRequiredService<InboxMetrics>().Retried(1);
        return TypedResults.NoContent();
    }

    /// <summary>200 <c>{"retried":n}</c>: every dead letter of the tenant is pending again.</summary>
    public static async Task<Ok<DeadLettersRetriedResponse>> RetryAllAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        int retried = await Inbox(context).RetryAllAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        context.RequestServices.GetRequiredService<InboxMetrics>().Retried(retried);
        return TypedResults.Ok(new DeadLettersRetriedResponse { Retried = retried });
    }

    /// <summary>
    /// Reads a page's <c>?limit=</c> (1–<see cref="MaxLimit"/>, default <see cref="DefaultLimit"/>) and <c>?after=</c> (an item id,
    /// default 0); the 400 problem when one is malformed. Shared by the inbox's and the outbound webhooks' dead letters.
    /// </summary>
    internal static ProblemHttpResult? ParsePage(HttpContext context, string? limit, string? after, out int take, out long afterId)
    {
        take = DefaultLimit;
        afterId = 0;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out take) || take is < 1 or > MaxLimit))
        {
            return TypedProblems.Problem(context, StatusCodes.Status400BadRequest, $"limit must be a whole number from 1 to {MaxLimit}.");
        }

        if (after is not null && (!long.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out afterId) || afterId < 0))
        {
            return TypedProblems.Problem(context, StatusCodes.Status400BadRequest, "after must be a dead letter id (a whole number).");
        }

        return null;
    }

    /// <summary>Reads a dead letter id from the route; the 400 problem when it is not a whole number.</summary>
    internal static ProblemHttpResult? ParseItem(HttpContext context, string item, out long itemId) =>
        long.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out itemId)
            ? null
            : TypedProblems.Problem(context, StatusCodes.Status400BadRequest, "The dead letter id must be a whole number, as listed by GET dead-letters.");

    private static ITenantInbox Inbox(HttpContext context) => context.RequestServices.GetRequiredService<ITenantInbox>();
}

/// <summary>One dead letter: <c>{"id","key","source","kind","received_at","attempts","last_error"}</c>.</summary>
internal sealed class DeadLetterResponse
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("key")]
    public required string Key { get; init; }

    [JsonPropertyName("source")]
    public required string Source { get; init; }

    [JsonPropertyName("kind")]
    public required string Kind { get; init; }

    [JsonPropertyName("received_at")]
    public required string ReceivedAt { get; init; }

    [JsonPropertyName("attempts")]
    public required int Attempts { get; init; }

    [JsonPropertyName("last_error")]
    public string? LastError { get; init; }

    public static DeadLetterResponse From(InboxItem item) => new()
    {
        Id = item.Id.ToString(CultureInfo.InvariantCulture),
        Key = item.Key,
        Source = item.Source,
        Kind = item.Kind,
        ReceivedAt = Rfc3339.Format(item.ReceivedAt),
        Attempts = item.Attempts,
        LastError = item.LastError,
    };
}

/// <summary>
/// A page of dead letters, of the inbox or of the outbound webhooks: <c>{"items":[…],"next_after"}</c>, where <c>next_after</c> is the
/// last item's id when the page is full (more may follow).
/// </summary>
internal sealed class DeadLetterPage<TItem>
{
    [JsonPropertyName("items")]
    public required TItem[] Items { get; init; }

    [JsonPropertyName("next_after")]
    public string? NextAfter { get; init; }
}

/// <summary>Builds <see cref="DeadLetterPage{TItem}"/>s.</summary>
internal static class DeadLetterPage
{
    /// <summary>The page of <paramref name="items"/> (read with <paramref name="limit"/>), each mapped by <paramref name="map"/>.</summary>
    public static DeadLetterPage<TItem> From<TSource, TItem>(IReadOnlyList<TSource> items, int limit, Func<TSource, TItem> map, Func<TSource, long> id)
    {
        var body = new TItem[items.Count];
        for (int i = 0; i < items.Count; i++)
        {
            body[i] = map(items[i]);
        }

        return new DeadLetterPage<TItem> { Items = body, NextAfter = items.Count == limit ? id(items[^1]).ToString(CultureInfo.InvariantCulture) : null };
    }
}

/// <summary>The answer to retry-all: <c>{"retried":n}</c>.</summary>
internal sealed class DeadLettersRetriedResponse
{
    [JsonPropertyName("retried")]
    public required int Retried { get; init; }
}
