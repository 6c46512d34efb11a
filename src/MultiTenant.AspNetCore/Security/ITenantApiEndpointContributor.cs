using Microsoft.AspNetCore.Routing;

namespace MultiTenant.AspNetCore.Security;

/// <summary>
/// Adds endpoints to the tenant API's one protected group. Register implementations in DI (as a package's <c>Use…()</c> does);
/// <c>MapTenantApi()</c> calls each one with its group, so every contributed endpoint requires the same API key and tenant scope
/// and cannot be mapped without them. The group also gives contributed endpoints the API's conventions: an unexpected exception is
/// logged and answered 500 problem details without its text (a request the client aborted is not an error), and a route handler whose
/// parameters fail to bind (a route <c>business_id</c> that is not a valid <c>TenantId</c>, for example) answers 400 problem details
/// with a readable <c>detail</c> instead of an empty 400. Read a JSON body with <see cref="Http.StrictJsonBody"/>.
/// </summary>
public interface ITenantApiEndpointContributor
{
    /// <summary>Maps endpoints into <paramref name="tenants"/>, the group of <c>/api/tenants</c> (routes relative to it, e.g.
    /// <c>/{business_id}/…</c>, whose <c>business_id</c> is checked against a tenant key).</summary>
    void MapEndpoints(RouteGroupBuilder tenants);
}
