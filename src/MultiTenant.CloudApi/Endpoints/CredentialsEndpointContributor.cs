using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using MultiTenant.AspNetCore.Security;

namespace MultiTenant.CloudApi.Endpoints;

/// <summary>
/// Adds the tenants' credentials to the tenant API's protected group (registered by <c>UseCloudApi()</c>):
/// <c>PUT {prefix}/{business_id}/cloud-api/credentials</c> with <c>{"phone_number_id":"…","access_token":"…","waba_id":"…"}</c>
/// (<c>waba_id</c> optional) → 204, 400 invalid id or body, 409 number used by another tenant, 413 too large, 415 not JSON;
/// <c>GET</c> → 200 <c>{"business_id","phone_number_id","waba_id","has_access_token","updated_at"}</c> (never the token) or 404;
/// <c>DELETE</c> → 204 or 404. Errors are RFC 9457 problem details; the group's API key and tenant scope apply.
/// </summary>
internal sealed class CredentialsEndpointContributor : ITenantApiEndpointContributor
{
    public void MapEndpoints(RouteGroupBuilder tenants)
    {
        var group = tenants.MapGroup("/{business_id}/cloud-api");
        group.MapPut("/credentials", (RequestDelegate)CredentialsEndpoints.PutAsync).WithName("PutCloudApiCredentials");
        group.MapGet("/credentials", (RequestDelegate)CredentialsEndpoints.GetAsync).WithName("GetCloudApiCredentials");
        group.MapDelete("/credentials", (RequestDelegate)CredentialsEndpoints.DeleteAsync).WithName("DeleteCloudApiCredentials");
    }
}
