using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Clients;
using MultiTenant.Hosting;

namespace MultiTenant.AspNetCore.Api;

/// <summary>
/// The tenant lifecycle endpoints of the API (issue 13): <c>POST {prefix}/{business_id}/restart</c> and
/// <c>POST {prefix}/{business_id}/logout</c>. Typed handlers with a route-bound <see cref="TenantId"/>; mapped by <c>MapTenantApi()</c>
/// into its protected group, so the API key and the tenant scope apply.
/// </summary>
internal static class TenantLifecycleEndpoints
{
    private const string Tag = "Tenants";

    /// <summary>Maps the endpoints into the API group; <paramref name="conventions"/> applies the API's typed-endpoint conventions.</summary>
    public static void Map(RouteGroupBuilder group, string tenantRoute, Func<RouteHandlerBuilder, string, RouteHandlerBuilder> conventions)
    {
        conventions(group.MapPost(tenantRoute + "/restart", RestartAsync), "RestartTenant")
            .WithSummary("Restarts a tenant: stops it (if it runs) and starts it again.")
            .WithTags(Tag);
        conventions(group.MapPost(tenantRoute + "/logout", LogoutAsync), "LogoutTenant")
            .WithSummary("Asks the tenant's client to log its device out (409 when the client cannot).")
            .WithTags(Tag);
    }

    /// <summary>Stops the tenant if it runs and starts it again: 200 with its status; 400, 404 unknown, 503 shutting down.</summary>
    public static async Task<Results<Ok<TenantLifecycleResponse>, ProblemHttpResult>> RestartAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        try
        {
            var status = await TenantRestart.RunAsync(Coordinator(context), tenant, context.RequestAborted).ConfigureAwait(false);
            return TypedResults.Ok(TenantLifecycleResponse.From(status, IncludeHost(context)));
        }
        catch (TenantNotFoundException)
        {
            return TypedProblems.Problem(context, StatusCodes.Status404NotFound, $"Tenant '{tenant}' is not known.");
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
    public static async Task<Results<Ok<TenantLifecycleResponse>, ProblemHttpResult>> LogoutAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        var coordinator = Coordinator(context);
        try
        {
            await coordinator.LogoutAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        }
        catch (TenantNotFoundException)
        {
            return TypedProblems.Problem(context, StatusCodes.Status404NotFound, $"Tenant '{tenant}' is not known.");
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
            ? TypedProblems.Problem(context, StatusCodes.Status404NotFound, $"Tenant '{tenant}' is not known.")
            : TypedResults.Ok(TenantLifecycleResponse.From(status, IncludeHost(context)));
    }

    private static ITenantCoordinator Coordinator(HttpContext context) => context.RequestServices.GetRequiredService<ITenantCoordinator>();

    private static bool IncludeHost(HttpContext context) =>
        context.RequestServices.GetService<IOptions<TenantApiOptions>>()?.Value.IncludeHost ?? false;
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

/// <summary>A tenant's status as the lifecycle endpoints return it (the API's status members, snake_case).</summary>
internal sealed record TenantLifecycleResponse
{
    [JsonPropertyName("business_id")]
    public required string BusinessId { get; init; }

    [JsonPropertyName("status")]
    public required string Status { get; init; }

    [JsonPropertyName("started_at")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StartedAt { get; init; }

    [JsonPropertyName("updated_at")]
    public required string UpdatedAt { get; init; }

    [JsonPropertyName("error")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Error { get; init; }

    [JsonPropertyName("host")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Host { get; init; }

    public static TenantLifecycleResponse From(TenantStatus status, bool includeHost)
    {
        var s = TenantStatusResponse.From(status, includeHost);
        return new() { BusinessId = s.BusinessId, Status = s.Status, StartedAt = s.StartedAt, UpdatedAt = s.UpdatedAt, Error = s.Error, Host = s.Host };
    }
}
