using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MultiTenant.AspNetCore.Diagnostics;
using MultiTenant.AspNetCore.Http;
using MultiTenant.AspNetCore.Security;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Hosting;

namespace MultiTenant.AspNetCore.Api;

/// <summary>
/// The typed request handlers of the tenant API (SPEC §3). Bodies arrive as validated request records (<see cref="StartTenantRequest"/>,
/// <see cref="SendMessageRequest"/>), the route's <c>business_id</c> as a <see cref="TenantId"/>; every answer but a success is a
/// problem details result.
/// </summary>
internal sealed class TenantApiHandlers(TenantApiOptions options, ILogger logger)
{
    public const string BusinessIdRouteValue = "business_id";

    /// <summary>Starts a tenant: 201 with its location; 403 a tenant key of another tenant, 409 already running, 503 shutting down.</summary>
    public async Task<Results<Created<TenantCommandResponse>, ProblemHttpResult>> StartAsync(StartTenantRequest request, HttpContext context)
    {
        var tenant = request.Tenant;
        if (!TenantApiAuthentication.MayActFor(context.User, tenant))
        {
            return Reject(context, nameof(StartAsync), StatusCodes.Status403Forbidden, "This API key may not act on this tenant.");
        }

        try
        {
            await Coordinator(context).StartAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        }
        catch (TenantAlreadyRunningException ex)
        {
            // The owner host is named only where statuses name it too.
            string detail = options.IncludeHost && ex.Host is not null ? ex.Message : $"Tenant '{tenant}' is already running.";
            return Reject(context, nameof(StartAsync), StatusCodes.Status409Conflict, detail);
        }
        catch (TenantCoordinatorStoppingException ex)
        {
            return Reject(context, nameof(StartAsync), StatusCodes.Status503ServiceUnavailable, ex.Message);
        }
        catch (TenantLimitReachedException ex)
        {
            return TypedProblems.Problem(context, StatusCodes.Status409Conflict, ex.Message, "tenant_limit_reached");
        }

        Log.TenantCommand(logger, "started", tenant.Value);
        string collection = (context.Request.PathBase + context.Request.Path).Value?.TrimEnd('/') ?? string.Empty;
        return TypedResults.Created(
            collection + "/" + Uri.EscapeDataString(tenant.Value),
            new TenantCommandResponse { Status = "started", BusinessId = tenant.Value });
    }

    /// <summary>
    /// <c>GET {prefix}</c>: one page of the statuses a key may see, in ordinal order of the ids (issue 12). <c>?limit=</c> 1–10,000
    /// (default 1,000: a fleet of up to 1,000 tenants is listed whole), <c>?after=</c> a business id (the page starts after it),
    /// <c>?status=</c> a state name. 200 with a JSON array (each status with its labels, read for the page at once) and, when more may follow, <c>Link: &lt;…?after=…&gt;; rel="next"</c>
    /// (a page may be shorter than the limit while more follow); 400 for a bad parameter. A page costs the same at any fleet size.
    /// </summary>
    public async Task<Results<Ok<TenantStatusResponse[]>, ProblemHttpResult>> ListAsync(
        [FromQuery(Name = "limit")] string? limit,
        [FromQuery(Name = "after")] string? after,
        [FromQuery(Name = "status")] string? status,
        HttpContext context)
    {
        int take = TenantStatusQuery.DefaultLimit;
        if (limit is not null
            && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out take) || take is < 1 or > TenantStatusQuery.MaxLimit))
        {
            return TypedProblems.Problem(context, StatusCodes.Status400BadRequest, $"limit must be a whole number from 1 to {TenantStatusQuery.MaxLimit:N0}.");
        }

        TenantId? cursor = null;
        if (after is not null)
        {
            if (TenantId.Validate(after) is { } invalid)
            {
                return TypedProblems.Problem(context, StatusCodes.Status400BadRequest, "after: " + invalid);
            }

            cursor = TenantId.Parse(after);
        }

        TenantState? state = null;
        if (status is not null && (state = StateFilter.Parse(status)) is null)
        {
            return TypedProblems.Problem(context, StatusCodes.Status400BadRequest, "Unknown status filter; use starting, connected, disconnected, error or stopped.");
        }

        var query = new TenantStatusQuery { Limit = take, After = cursor, State = state };
        var page = TenantApiAuthentication.IsAdmin(context.User)
            ? await Coordinator(context).ListStatusPageAsync(query, context.RequestAborted).ConfigureAwait(false)
            : await OwnTenantsAsync(context, query).ConfigureAwait(false);
        if (page.Next is { } next)
        {
            var request = context.Request;
            var parameters = new List<KeyValuePair<string, string?>> { new("limit", take.ToString(CultureInfo.InvariantCulture)), new("after", next.Value) };
            if (status is not null)
            {
                parameters.Add(new("status", status));
            }

            var link = QueryString.Create(parameters);
            context.Response.Headers.Link = $"<{request.PathBase}{request.Path}{link}>; rel=\"next\"";
        }

        // The labels of the whole page in one read (one query on PostgreSQL), not one per tenant.
        var ids = new TenantId[page.Statuses.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = page.Statuses[i].BusinessId;
        }

        var labels = await context.RequestServices.GetRequiredService<MultiTenant.Storage.ITenantLabelStore>()
            .GetManyAsync(ids, context.RequestAborted).ConfigureAwait(false);
        var body = new TenantStatusResponse[ids.Length];
        for (int i = 0; i < body.Length; i++)
        {
            body[i] = TenantStatusResponse.From(page.Statuses[i], options.IncludeHost, labels.GetValueOrDefault(ids[i]));
        }

        return TypedResults.Ok(body);
    }

    /// <summary>A tenant key sees its own tenants only: their statuses are read one by one (a key names few), then paged.</summary>
    private static async Task<TenantStatusPage> OwnTenantsAsync(HttpContext context, TenantStatusQuery query)
    {
        var own = new List<TenantStatus>();
        foreach (var claim in context.User.FindAll(TenantApiAuthentication.BusinessIdClaim))
        {
            if (TenantId.TryParse(claim.Value, out var tenant)
                && await Coordinator(context).GetStatusAsync(tenant, context.RequestAborted).ConfigureAwait(false) is { } status)
            {
                own.Add(status);
            }
        }

        own.Sort(static (a, b) => a.BusinessId.CompareTo(b.BusinessId));
        return TenantStatusPage.FromSorted(own, query);
    }

    /// <summary>Gets a tenant's status: 200; 404 unknown tenant.</summary>
    public async Task<Results<Ok<TenantStatusResponse>, ProblemHttpResult>> GetAsync(
        [FromRoute(Name = BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        var status = await Coordinator(context).GetStatusAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        if (status is null)
        {
            return NotFound(context, nameof(GetAsync), tenant);
        }

        var labels = await context.RequestServices.GetRequiredService<MultiTenant.Storage.ITenantLabelStore>()
            .GetAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(TenantStatusResponse.From(status, options.IncludeHost, labels));
    }

    /// <summary>
    /// <c>DELETE {prefix}/{business_id}</c>: stops a tenant, 200 <c>{"status":"stopped"}</c>; with <c>?purge=true</c> also erases
    /// everything stored about it (<see cref="TenantPurge"/>), 200 <c>{"status":"purged"}</c>. 400 another purge value, 404.
    /// </summary>
    public async Task<Results<Ok<TenantCommandResponse>, ProblemHttpResult>> StopAsync(
        [FromRoute(Name = BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        if (TenantPurge.Requested(context.Request, out string? purgeProblem) is not { } purge)
        {
            return Reject(context, nameof(StopAsync), StatusCodes.Status400BadRequest, purgeProblem!);
        }

        try
        {
            await Coordinator(context).StopAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        }
        catch (TenantNotFoundException)
        {
            return NotFound(context, nameof(StopAsync), tenant);
        }

        if (purge)
        {
            await TenantPurge.RunAsync(context.RequestServices, tenant, context.RequestAborted).ConfigureAwait(false);
        }

        Log.TenantCommand(logger, purge ? "purged" : "stopped", tenant.Value);
        return TypedResults.Ok(new TenantCommandResponse { Status = purge ? "purged" : "stopped", BusinessId = tenant.Value });
    }

    /// <summary>
    /// Sends a message of any kind through a connected tenant: 202 with the message id; 400 <c>invalid_message</c> over one of the
    /// backend's limits, 422 <c>kind_not_supported</c> a kind the backend cannot send (both before any client call), 404 unknown tenant,
    /// 409 not connected, 429 the backend asked to retry later (Retry-After), 502 the backend refused it (its <c>TenantSendException</c>
    /// message as the detail) or the send failed otherwise (<c>send_failed</c>: a fixed detail with an error id, the exception in the
    /// log, event <see cref="TenantApiEventIds.SendFailed"/>), 503 a relayed send no host took, so a retry is safe (Retry-After).
    /// </summary>
    public async Task<Results<Accepted<MessageAcceptedResponse>, ProblemHttpResult>> SendMessageAsync(
        [FromRoute(Name = BusinessIdRouteValue)] TenantId tenant, SendMessageRequest request, HttpContext context)
    {
        SendMessageResult result;
        try
        {
            result = await Coordinator(context).SendMessageAsync(tenant, request.ToMessage(), context.RequestAborted).ConfigureAwait(false);
        }
        catch (InvalidMessageException ex)
        {
            return Reject(context, nameof(SendMessageAsync), StatusCodes.Status400BadRequest, ex.Message, MessageRules.InvalidMessageCode);
        }
        catch (MessageKindNotSupportedException ex)
        {
            return Reject(context, nameof(SendMessageAsync), StatusCodes.Status422UnprocessableEntity, ex.Message, MessageRules.KindNotSupportedCode);
        }
        catch (TenantNotFoundException)
        {
            return NotFound(context, nameof(SendMessageAsync), tenant);
        }
        catch (TenantNotConnectedException ex)
        {
            return Reject(context, nameof(SendMessageAsync), StatusCodes.Status409Conflict, ex.Message);
        }
        catch (TenantUnavailableException ex)
        {
            // Nothing was sent: a retry is safe.
            Problems.SetRetryAfter(context, ex.RetryAfter ?? TimeSpan.FromSeconds(1));
            return TypedProblems.Problem(context, StatusCodes.Status503ServiceUnavailable, ex.Message, "tenant_unavailable");
        }
        catch (TenantSendException ex)
        {
            Log.SendRefused(logger, tenant.Value, ex.IsTransient, ex.ErrorCode);
            int status = StatusCodes.Status502BadGateway;
            if (ex.IsTransient && ex.RetryAfter is { } retryAfter)
            {
                status = StatusCodes.Status429TooManyRequests;
                Problems.SetRetryAfter(context, retryAfter);
            }

            string detail = string.IsNullOrWhiteSpace(ex.Message) ? "The backend refused the message." : ex.Message;
            return TypedProblems.Problem(context, status, detail, ex.ErrorCode);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            // Not a TenantSendException (whose message the client wrote for callers): its text is never shown, the log has it.
            string errorId = TenantErrorReference.NewId();
            Log.SendFailed(logger, tenant.Value, errorId, ex);
            return TypedProblems.Problem(
                context,
                StatusCodes.Status502BadGateway,
                TenantErrorReference.Describe("sending the message failed", errorId, TenantApiEventIds.SendFailed),
                "send_failed");
        }

        return TypedResults.Accepted((string?)null, new MessageAcceptedResponse { MessageId = result.MessageId });
    }

    private static ITenantCoordinator Coordinator(HttpContext context) => context.RequestServices.GetRequiredService<ITenantCoordinator>();

    private ProblemHttpResult NotFound(HttpContext context, string endpoint, TenantId tenant) =>
        Reject(context, endpoint, StatusCodes.Status404NotFound, TypedProblems.NotFoundDetail(tenant));

    private ProblemHttpResult Reject(HttpContext context, string endpoint, int statusCode, string detail, string? errorCode = null)
    {
        Log.RequestRejected(logger, endpoint, statusCode, detail);
        return TypedProblems.Problem(context, statusCode, detail, errorCode);
    }
}
