using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;

namespace MultiTenant.AspNetCore.Security;

/// <summary>The requirement of <see cref="TenantApiAuthentication.TenantScopePolicy"/>.</summary>
internal sealed class TenantScopeRequirement : IAuthorizationRequirement;

/// <summary>The requirement of <see cref="TenantApiAuthentication.AdminPolicy"/>.</summary>
internal sealed class AdminRequirement : IAuthorizationRequirement;

/// <summary>
/// Checks a tenant key against the route's <c>business_id</c>: the admin passes everywhere; a tenant key passes on its own tenant's
/// routes and on routes without a <c>business_id</c> (the list, filtered to its tenant, and the start, whose body is checked by the
/// endpoint). Any other tenant fails (403).
/// </summary>
internal sealed class TenantScopeAuthorizationHandler : IAuthorizationHandler
{
    public Task HandleAsync(AuthorizationHandlerContext context)
    {
        bool admin = TenantApiAuthentication.IsAdmin(context.User);
        foreach (var requirement in context.PendingRequirements.ToArray())
        {
            if (requirement is AdminRequirement && admin)
            {
                context.Succeed(requirement);
            }
            else if (requirement is TenantScopeRequirement && (admin || InScope(context)))
            {
                context.Succeed(requirement);
            }
        }

        return Task.CompletedTask;
    }

    private static bool InScope(AuthorizationHandlerContext context)
    {
        if (!context.User.HasClaim(c => c.Type == TenantApiAuthentication.BusinessIdClaim))
        {
            return false;
        }

        var route = context.Resource switch
        {
            HttpContext http => http.Request.RouteValues,
            _ => null,
        };
        if (route is null || !route.TryGetValue("business_id", out object? value))
        {
            return route is not null;
        }

        return value is string id && context.User.HasClaim(TenantApiAuthentication.BusinessIdClaim, id);
    }
}
