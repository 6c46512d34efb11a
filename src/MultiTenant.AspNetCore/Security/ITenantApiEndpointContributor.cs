using Microsoft.AspNetCore.Routing;

namespace MultiTenant.AspNetCore.Security;

/// <summary>
/// Adds endpoints to the tenant API's one protected group. Register implementations in DI (as a package's <c>Use…()</c> does);
/// <c>MapTenantApi()</c> calls each one with its group, so every contributed endpoint requires the same API key and tenant scope
/// and cannot be mapped without them.
/// </summary>
public interface ITenantApiEndpointContributor
{
    /// <summary>Maps endpoints into <paramref name="tenants"/>, the group of <c>/api/tenants</c> (routes relative to it, e.g.
    /// <c>/{business_id}/…</c>, whose <c>business_id</c> is checked against a tenant key).</summary>
    void MapEndpoints(RouteGroupBuilder tenants);
}
