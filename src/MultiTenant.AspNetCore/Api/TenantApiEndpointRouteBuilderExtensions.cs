using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore;
using MultiTenant.AspNetCore.Api;
using MultiTenant.AspNetCore.Diagnostics;
using MultiTenant.AspNetCore.Http;
using MultiTenant.AspNetCore.OpenApi;
using MultiTenant.AspNetCore.Security;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the tenant REST API (SPEC §3).</summary>
public static class TenantApiEndpointRouteBuilderExtensions
{
    /// <summary>The default route prefix of the tenant API: <c>/api/tenants</c>.</summary>
    public const string DefaultPrefix = "/api/tenants";

    // No IAcceptsMetadata on the POST endpoints: routing would answer a non-JSON body 415 with an empty body before the endpoint runs,
    // and the request records' binding answers it with problem details itself.
    private const string Tag = "Tenants";

    /// <summary>
    /// Maps the tenant REST API under <paramref name="prefix"/>:
    /// <list type="bullet">
    /// <item><c>POST {prefix}</c> <c>{"business_id":"tenant1"}</c> → 201 <c>{"status":"started","business_id":"tenant1"}</c> with a
    /// <c>Location</c> header; 400 invalid body or id, 403 a tenant key of another tenant, 409 already running, 413 body too large,
    /// 415 not JSON, 503 shutting down.</item>
    /// <item><c>GET {prefix}</c> → 200, an array of tenant statuses.</item>
    /// <item><c>GET {prefix}/{business_id}</c> → 200, one status; 400 invalid id, 404 unknown.</item>
    /// <item><c>DELETE {prefix}/{business_id}</c> → 200 <c>{"status":"stopped","business_id":"tenant1"}</c>; 400, 404. With
    /// <c>?purge=true</c> it also erases everything stored about the tenant (client state and credentials, status, registry row, API
    /// keys, inbox items, labels): 200 <c>{"status":"purged",…}</c>.</item>
    /// <item><c>POST {prefix}/{business_id}/restart</c> → 200, the status (stops the tenant if it runs, starts it); 404.
    /// <c>POST {prefix}/{business_id}/logout</c> → 200, the status, once the client logged its device out (the tenant then goes to
    /// <c>error</c>); 404; 409 <c>not_connected</c> or <c>logout_not_supported</c> (a client without
    /// <see cref="MultiTenant.Clients.ITenantClientLogout"/>).</item>
    /// <item><c>PUT {prefix}/{business_id}</c> <c>{"env":"prod"}</c> → 200, the status with its <c>labels</c> (at most 16; keys 1–63
    /// of <c>A-Za-z0-9._-/</c>, values up to 256 characters; <c>{}</c> removes them); 400, 404, 413, 415. <c>GET</c> of one tenant
    /// returns its labels too.</item>
    /// <item><c>POST {prefix}/{business_id}/keys</c> (admin only) → 201 <c>{"id","key","business_id","created_at"}</c>, the key shown
    /// once; <c>GET {prefix}/{business_id}/keys</c> → 200 <c>[{"id","business_id","created_at"}]</c>;
    /// <c>DELETE {prefix}/{business_id}/keys/{id}</c> → 204, 404 unknown key.</item>
    /// <item><c>PUT {prefix}/{business_id}/webhooks</c> <c>{"url","event_types","secret"}</c> → 201 created / 200 replaced
    /// <c>{"id","business_id","url","event_types","created_at","updated_at"}</c> (plus <c>"secret"</c> once when the server generated
    /// it); 400 invalid body, URL refused as a request forgery target, unknown event type; <c>GET</c> → 200 without the secret, 404;
    /// <c>DELETE</c> → 204, 404. See <see cref="MultiTenant.Webhooks.WebhookDeliveryOptions"/>.</item>
    /// <item><c>POST {prefix}/{business_id}/messages</c> <c>{"to":"15551234567","text":"hi"}</c> → 202 <c>{"message_id":"…"}</c>;
    /// 400, 404, 409 not connected, 413, 415, 429 (with <c>Retry-After</c>) when the backend asks to retry later, 502 when it refuses,
    /// 503 <c>tenant_unavailable</c> (with <c>Retry-After</c>) when a relayed send was taken by no host, so a retry is safe.</item>
    /// <item><c>GET {prefix}/{business_id}/dead-letters?limit=&amp;after=</c> → 200 <c>{"items":[{"id","key","source","kind","received_at",
    /// "attempts","last_error"}],"next_after"}</c>: inbox items whose handlers kept failing; <c>POST …/dead-letters/{id}/retry</c> → 204
    /// (404 unknown), <c>POST …/dead-letters/retry</c> → 200 <c>{"retried":n}</c>: pending again, in their place in the tenant's order.</item>
    /// <item><c>PUT|GET|DELETE {prefix}/{business_id}/webhooks</c>: the tenant's outbound webhook subscription; <c>GET …/webhooks/dead-letters</c>
    /// → 200 <c>{"items":[{"id","event_id","event_type","created_at","attempts","last_error"}],"next_after"}</c>: events that were never
    /// delivered; <c>POST …/webhooks/dead-letters/{id}/retry</c> → 204 (404 unknown), <c>POST …/webhooks/dead-letters/retry</c> → 200
    /// <c>{"retried":n}</c>: queued again, in their place in the tenant's order.</item>
    /// </list>
    /// A status is <c>{"business_id","status","started_at","updated_at","error","host"}</c> in snake_case, with RFC 3339 UTC timestamps
    /// of whole seconds (<c>2025-01-07T10:00:05Z</c>); <c>error</c> is omitted when there is none, <c>host</c> unless
    /// <see cref="TenantApiOptions.IncludeHost"/> is set. Every error is an RFC 9457 problem details document
    /// (<c>application/problem+json</c>) with a human-readable <c>detail</c>; an unexpected failure is logged and answered 500 without
    /// its exception text. Request bodies must be JSON objects with exactly the documented members: unknown or repeated members are
    /// refused with 400, so a misspelt member is reported rather than ignored (the bodies are typed request records read with
    /// <see cref="MultiTenant.AspNetCore.Http.StrictJsonBody"/>; handlers return <c>TypedResults</c>, so OpenAPI sees every response).
    /// Options come from <see cref="TenantApiOptions"/> in DI.
    /// <para>Every endpoint of the group, and every endpoint an <see cref="ITenantApiEndpointContributor"/> from DI adds to it (the
    /// Cloud API credentials, for example), requires an API key (<c>Authorization: Bearer</c> or <c>X-Api-Key</c>) with policy
    /// <see cref="TenantApiAuthentication.TenantScopePolicy"/>: the admin key, or a tenant key on its own tenant (another → 403);
    /// no key, an unknown or a revoked one → 401 with <c>WWW-Authenticate: Bearer</c>. A tenant key lists and starts its own tenant only.</para>
    /// </summary>
    /// <param name="endpoints">The application or a route group.</param>
    /// <param name="prefix">The route prefix. Default <c>/api/tenants</c>.</param>
    /// <returns>The route group of the API, so the host can add <c>RequireAuthorization()</c>, rate limiting or other conventions.</returns>
    /// <exception cref="InvalidOperationException"><c>AddWhatsAppTenants()</c> or <c>AddTenantApi()</c> was not called, or an option is out of range.</exception>
    /// <remarks>Rate limits: the group requires the policy <see cref="TenantApiRateLimitOptions.PolicyName"/> (a token bucket per caller, 429 with <c>Retry-After</c>); the host calls <c>app.UseRateLimiter()</c>, else the endpoints answer 500 and log why. Sends take an optional <c>Idempotency-Key</c> header (one send per key and tenant for 24 h; the same key with another body 422, a duplicate still sending 409 <c>in_progress</c>). A start beyond <c>TenantCoordinatorOptions.MaxTenants</c> is 409 <c>tenant_limit_reached</c>.</remarks>
    public static RouteGroupBuilder MapTenantApi(this IEndpointRouteBuilder endpoints, string prefix = DefaultPrefix)
    {
        RequiredServices.ThrowIfTenantsMissing(endpoints, nameof(MapTenantApi));
        ArgumentException.ThrowIfNullOrEmpty(prefix);

        var services = endpoints.ServiceProvider;
        var options = services.GetService<IOptions<TenantApiOptions>>()?.Value ?? new TenantApiOptions();
        options.Validate();
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger("MultiTenant.AspNetCore.TenantApi") ?? NullLogger.Instance;
        var handlers = new TenantApiHandlers(options, logger);

        if (services.GetService<TenantApiSecurityMarker>() is null)
        {
            throw new InvalidOperationException(
                "MapTenantApi() needs the API key authentication. Call services.AddWhatsAppTenants().AddTenantApi() when configuring services.");
        }

        var group = endpoints.MapGroup(prefix);
        group.RequireAuthorization(TenantApiAuthentication.TenantScopePolicy);
        TenantApiRateLimiting.Apply(group, services, logger);
        string tenantRoute = "/{" + TenantApiHandlers.BusinessIdRouteValue + "}";

        group.MapPost("/", handlers.StartAsync)
            .Typed("StartTenant", logger)
            .WithJsonRequestBody<StartTenantRequest>()
            .WithMetadata(ProducesProblems(400, 403, 409, 413, 415, 503))
            .WithTags(Tag);

        group.MapGet("/", (Delegate)handlers.ListAsync)
            .Typed("ListTenants", logger)
            .WithMetadata(ProducesProblems(400))
            .WithTags(Tag);

        group.MapGet(tenantRoute, handlers.GetAsync)
            .Typed("GetTenant", logger)
            .WithMetadata(ProducesProblems(400, 403, 404))
            .WithTags(Tag);

        group.MapDelete(tenantRoute, handlers.StopAsync)
            .Typed("StopTenant", logger)
            .WithMetadata(ProducesProblems(400, 403, 404))
            .WithTags(Tag);

        group.MapPost(tenantRoute + "/messages", handlers.SendMessageAsync)
            .Typed("SendMessage", logger)
            .WithMessageRequestBody()
            .WithMetadata(ProducesProblems(400, 403, 404, 409, 413, 415, 422, 429, 502, 503))
            .WithTags(Tag)
            .WithIdempotencyKey(options.MaxRequestBodySize, logger);

        group.MapPost(tenantRoute + "/keys", TenantApiKeyHandlers.CreateAsync)
            .Typed("CreateApiKey", logger)
            .RequireAuthorization(TenantApiAuthentication.AdminPolicy)
            .WithMetadata(ProducesProblems(400, 403))
            .WithTags(Tag);

        group.MapGet(tenantRoute + "/keys", TenantApiKeyHandlers.ListAsync)
            .Typed("ListApiKeys", logger)
            .WithMetadata(ProducesProblems(400, 403))
            .WithTags(Tag);

        group.MapDelete(tenantRoute + "/keys/{" + TenantApiKeyHandlers.KeyIdRouteValue + "}", TenantApiKeyHandlers.RevokeAsync)
            .Typed("RevokeApiKey", logger)
            .WithMetadata(ProducesProblems(400, 403, 404))
            .WithTags(Tag);

        DeadLetterHandlers.Map(group, tenantRoute, logger);
        TenantLifecycleEndpoints.Map(group, tenantRoute, (b, name) => b.Typed(name, logger));
        TenantWebhookEndpoints.Map(group, tenantRoute, (b, name) => b.Typed(name, logger));
        WebhookDeadLetterEndpoints.Map(group, tenantRoute, (b, name) => b.Typed(name, logger));

        // The OpenAPI summaries are the handlers' XML doc summaries (Microsoft.AspNetCore.OpenApi reads them at build time).
        // Contributed endpoints get the API's conventions from a group of their own, so a contributor cannot forget them.
        var contributed = group.MapGroup(string.Empty);
        contributed.AddEndpointFilter(TenantRouteFilter.Instance);
        ((IEndpointConventionBuilder)contributed).Finally(b => GuardEndpoint(b, b.Metadata.OfType<IEndpointNameMetadata>().LastOrDefault()?.EndpointName ?? b.DisplayName ?? "?", logger));
        foreach (var contributor in services.GetServices<ITenantApiEndpointContributor>())
        {
            contributor.MapEndpoints(contributed);
        }

        return group;
    }

    /// <summary>
    /// Wraps a handler so that an unexpected exception is logged (with the trace id) and answered 500 problem details without its text.
    /// A request the client aborted is not an error. A wrapper rather than a group endpoint filter: filters on the returned group would
    /// also run on endpoints the host adds to it.
    /// </summary>
    private static RequestDelegate Guard(string endpoint, RequestDelegate handler, ILogger logger) => async context =>
    {
        try
        {
            await handler(context).ConfigureAwait(false);
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (a cancelled call, a reset connection while reading the body): nobody reads an answer.
        }
        catch (Exception ex)
        {
            string traceId = System.Diagnostics.Activity.Current?.Id ?? context.TraceIdentifier;
            Log.UnhandledException(logger, endpoint, traceId, ex);
            if (context.Response.HasStarted)
            {
                context.Abort();
                return;
            }

            context.Response.Clear();
            await Problems.WriteAsync(
                context,
                StatusCodes.Status500InternalServerError,
                "The server failed to process the request. The trace id identifies the failure in the server's logs.").ConfigureAwait(false);
        }
    };

    /// <summary>
    /// The conventions of a typed endpoint: a route <c>business_id</c> that does not bind answers 400 problem details (a filter), and the
    /// whole request delegate, binding included, runs inside <see cref="Guard"/>. Per endpoint, not on the group, so endpoints the host
    /// adds to the returned group keep their own behaviour.
    /// </summary>
    internal static RouteHandlerBuilder Typed(this RouteHandlerBuilder builder, string endpoint, ILogger logger)
    {
        builder.AddEndpointFilter(TenantRouteFilter.Instance);
        builder.Finally(b => GuardEndpoint(b, endpoint, logger));
        return builder;
    }

    private static void GuardEndpoint(EndpointBuilder builder, string endpoint, ILogger logger)
    {
        var inner = builder.RequestDelegate ?? throw new InvalidOperationException($"The endpoint {endpoint} has no request delegate.");
        builder.RequestDelegate = Guard(endpoint, inner, logger);
    }

    /// <summary>Problem details responses for <paramref name="statusCodes"/> (the OpenAPI document adds 401 to every keyed endpoint).</summary>
    private static object[] ProducesProblems(params int[] statusCodes)
    {
        var metadata = new object[statusCodes.Length];
        for (int i = 0; i < statusCodes.Length; i++)
        {
            metadata[i] = Problem(statusCodes[i]);
        }

        return metadata;
    }

    private static ProducesResponseTypeMetadata Problem(int statusCode) =>
        new(statusCode, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), [Problems.ContentType]);
}
