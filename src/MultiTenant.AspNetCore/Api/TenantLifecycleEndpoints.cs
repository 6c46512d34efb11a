using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Clients;
using MultiTenant.Hosting;
using MultiTenant.Storage;

namespace MultiTenant.AspNetCore.Api;

/// <summary>
/// The tenant lifecycle endpoints of the API (issue 13): <c>POST {prefix}/{business_id}/restart</c>,
/// <c>POST {prefix}/{business_id}/logout</c> and <c>PUT {prefix}/{business_id}</c> (labels); the purge of
/// <c>DELETE {prefix}/{business_id}?purge=true</c> is <see cref="TenantPurge"/>. Typed handlers with a route-bound <see cref="TenantId"/>; mapped by <c>MapTenantApi()</c>
/// into its protected group, so the API key and the tenant scope apply.
/// </summary>
internal static class TenantLifecycleEndpoints
{
    private const string Tag = "Tenants";

    /// <summary>The labels body: a JSON object of strings, at most <see cref="TenantLabels.MaxCount"/> members (keys and values checked after).</summary>
    private static readonly StrictJsonBodyShape LabelsShape = StrictJsonBodyShape.StringMap("""{"env":"prod","team":"payments"}""", TenantLabels.MaxCount);

    /// <summary>Maps the endpoints into the API group; <paramref name="conventions"/> applies the API's typed-endpoint conventions.</summary>
    public static void Map(RouteGroupBuilder group, string tenantRoute, Func<RouteHandlerBuilder, string, RouteHandlerBuilder> conventions)
    {
        conventions(group.MapPost(tenantRoute + "/restart", RestartAsync), "RestartTenant")
            .WithSummary("Restarts a tenant: stops it (if it runs) and starts it again.")
            .WithTags(Tag);
        conventions(group.MapPost(tenantRoute + "/logout", LogoutAsync), "LogoutTenant")
            .WithSummary("Asks the tenant's client to log its device out (409 when the client cannot).")
            .WithTags(Tag);
        conventions(group.MapPut(tenantRoute, SetLabelsAsync), "SetTenantLabels")
            .WithSummary("Replaces the tenant's labels (a JSON object of strings) and returns its status with them.")
            .WithTags(Tag);
    }

    /// <summary>Stops the tenant if it runs and starts it again: 200 with its status; 400, 404 unknown, 503 shutting down.</summary>
    public static async Task<Results<Ok<TenantStatusResponse>, ProblemHttpResult>> RestartAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        try
        {
            var status = await TenantRestart.RunAsync(Coordinator(context), tenant, context.RequestAborted).ConfigureAwait(false);
            return TypedResults.Ok(TenantStatusResponse.From(status, IncludeHost(context)));
        }
        catch (TenantNotFoundException)
        {
            return TypedProblems.TenantNotFound(context, tenant);
        }
        catch (TenantAlreadyRunningException)
        {
            return TypedProblems.Problem(context, StatusCodes.Status409Conflict, $"Tenant '{tenant}' was started again by another request meanwhile.");
        }
        catch (TenantCoordinatorStoppingException ex)
        {
            return TypedProblems.Problem(context, StatusCodes.Status503ServiceUnavailable, ex.Message);
        }
    }

    /// <summary>
    /// Asks the client to log out: 200 with the status; 404 unknown; 409 <c>not_connected</c> (no client on this host) or
    /// <c>logout_not_supported</c> (a client without <see cref="ITenantClientLogout"/>).
    /// </summary>
    public static async Task<Results<Ok<TenantStatusResponse>, ProblemHttpResult>> LogoutAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        var coordinator = Coordinator(context);
        try
        {
            await coordinator.LogoutAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        }
        catch (TenantNotFoundException)
        {
            return TypedProblems.TenantNotFound(context, tenant);
        }
        catch (TenantNotConnectedException ex)
        {
            return TypedProblems.Problem(context, StatusCodes.Status409Conflict, ex.Message, "not_connected");
        }
        catch (TenantLogoutNotSupportedException ex)
        {
            return TypedProblems.Problem(context, StatusCodes.Status409Conflict, ex.Message, "logout_not_supported");
        }

        var status = await coordinator.GetStatusAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        return status is null
            ? TypedProblems.TenantNotFound(context, tenant)
            : TypedResults.Ok(TenantStatusResponse.From(status, IncludeHost(context)));
    }

    /// <summary>
    /// Replaces the labels of a known tenant with the body, a JSON object of strings (<c>{"env":"prod"}</c>; <c>{}</c> removes them;
    /// limits in <see cref="TenantLabels"/>): 200 with the status and its labels; 400 not such an object or over a limit, 404 unknown,
    /// 413 too large, 415 not JSON.
    /// </summary>
    public static async Task<Results<Ok<TenantStatusResponse>, ProblemHttpResult>> SetLabelsAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        var body = await StrictJsonBody.ReadAsync(context, LabelsShape, TenantApiRequestOptions.Get(context).MaxRequestBodySize).ConfigureAwait(false);
        if (body.Problem is { } refused)
        {
            return refused;
        }

        var labels = new SortedDictionary<string, string>(body.GetStringMap()!.ToDictionary(), StringComparer.Ordinal);
        if (TenantLabels.Validate(labels) is { } invalid)
        {
            return TypedProblems.Problem(context, StatusCodes.Status400BadRequest, invalid);
        }

        var status = await Coordinator(context).GetStatusAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        if (status is null)
        {
            return TypedProblems.TenantNotFound(context, tenant);
        }

        await context.RequestServices.GetRequiredService<ITenantLabelStore>().SetAsync(tenant, labels, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(TenantStatusResponse.From(status, IncludeHost(context), labels));
    }

    private static ITenantCoordinator Coordinator(HttpContext context) => context.RequestServices.GetRequiredService<ITenantCoordinator>();

    private static bool IncludeHost(HttpContext context) => TenantApiRequestOptions.Get(context).IncludeHost;
}

/// <summary>
/// The purge of <c>DELETE {prefix}/{business_id}?purge=true</c>: after the stop, every registered store that can
/// (<see cref="ITenantPurgeable"/>: the coordinator, registry, statuses, client state and credentials, API keys, inbox, labels) erases the tenant.
/// </summary>
internal static class TenantPurge
{
    /// <summary>Whether the request asks for a purge: <c>?purge=true</c>; null with a problem for a value other than true or false.</summary>
    public static bool? Requested(HttpRequest request, out string? problem)
    {
        problem = null;
        string? value = request.Query["purge"];
        if (value is null || value.Equals("false", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (value.Equals("true", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        problem = "The query parameter 'purge' must be 'true' or 'false'.";
        return null;
    }

    /// <summary>Erases the tenant in every purgeable store (each store once, whatever the number of its registrations).</summary>
    public static async Task RunAsync(IServiceProvider services, TenantId tenant, CancellationToken cancellationToken)
    {
        object?[] candidates =
        [
            services.GetService<ITenantCoordinator>(), // first: waits for the tenant's last status write, forgets its supervisor
            services.GetService<ITenantStateStoreProvider>(),
            services.GetService<ITenantStatusStore>(),
            services.GetService<ITenantRegistry>(),
            services.GetService<MultiTenant.Security.ITenantApiKeyStore>(),
            services.GetService<MultiTenant.Inbox.ITenantInbox>(),
            services.GetService<ITenantLabelStore>(),
        ];
        var done = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var candidate in candidates)
        {
            if (candidate is ITenantPurgeable store && done.Add(store))
            {
                await store.PurgeAsync(tenant, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>Restart = stop (a no-op when stopped) then start; shared by the API and the dashboard's button.</summary>
internal static class TenantRestart
{
    /// <exception cref="TenantNotFoundException">The tenant is not known.</exception>
    public static async Task<TenantStatus> RunAsync(ITenantCoordinator coordinator, TenantId tenant, CancellationToken cancellationToken)
    {
        await coordinator.StopAsync(tenant, cancellationToken).ConfigureAwait(false);
        return await coordinator.StartAsync(tenant, cancellationToken).ConfigureAwait(false);
    }
}
