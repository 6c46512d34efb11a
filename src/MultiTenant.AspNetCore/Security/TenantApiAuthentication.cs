using System.Security.Claims;

namespace MultiTenant.AspNetCore.Security;

/// <summary>The names of the tenant API's authentication scheme, policies and claims.</summary>
public static class TenantApiAuthentication
{
    /// <summary>The authentication scheme that reads API keys: <c>WhatsAppTenantsApiKey</c>.</summary>
    public const string Scheme = "WhatsAppTenantsApiKey";

    /// <summary>The policy every endpoint of the tenant API requires: an admin key, or a tenant key of the route's <c>business_id</c>.</summary>
    public const string TenantScopePolicy = "WhatsAppTenants.TenantScope";

    /// <summary>The policy of admin-only endpoints (creating keys): the admin key.</summary>
    public const string AdminPolicy = "WhatsAppTenants.Admin";

    /// <summary>
    /// The scheme of the dashboard's endpoints only: <c>WhatsAppTenantsDashboard</c>, which forwards a request that carries an API key
    /// header to <see cref="Scheme"/> and any other to <see cref="DashboardCookieScheme"/>. The tenant API never reads the cookie.
    /// </summary>
    public const string DashboardScheme = "WhatsAppTenantsDashboard";

    /// <summary>
    /// The cookie scheme of the dashboard's browser sign-in: <c>WhatsAppTenantsDashboardCookie</c> (an HttpOnly, SameSite=Strict
    /// cookie, Secure over HTTPS, holding a Data Protection ticket). Configure it further with
    /// <c>services.Configure&lt;CookieAuthenticationOptions&gt;(TenantApiAuthentication.DashboardCookieScheme, …)</c>.
    /// </summary>
    public const string DashboardCookieScheme = "WhatsAppTenantsDashboardCookie";

    /// <summary>The policy of the dashboard's endpoints: a signed-in browser or an API key header, admin or tenant key.</summary>
    public const string DashboardPolicy = "WhatsAppTenants.Dashboard";

    /// <summary>The claim that marks the admin key: value <see cref="AdminRole"/>.</summary>
    public const string RoleClaim = "whatsapp_tenants_role";

    /// <summary>The value of <see cref="RoleClaim"/> for the admin key.</summary>
    public const string AdminRole = "admin";

    /// <summary>The claim carrying the <c>business_id</c> a tenant key is scoped to.</summary>
    public const string BusinessIdClaim = "business_id";

    /// <summary>The claim carrying the id of the tenant key that authenticated the request.</summary>
    public const string KeyIdClaim = "whatsapp_tenants_key_id";

    /// <summary>The header accepted besides <c>Authorization: Bearer</c>: <c>X-Api-Key</c>.</summary>
    public const string ApiKeyHeader = "X-Api-Key";

    /// <summary>Whether <paramref name="user"/> authenticated with the admin key.</summary>
    public static bool IsAdmin(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return user.HasClaim(RoleClaim, AdminRole);
    }

    /// <summary>Whether <paramref name="user"/> may act for <paramref name="tenant"/>: the admin, or a key scoped to it.</summary>
    public static bool MayActFor(ClaimsPrincipal user, TenantId tenant)
    {
        ArgumentNullException.ThrowIfNull(user);
        return IsAdmin(user) || user.HasClaim(BusinessIdClaim, tenant.Value);
    }
}
