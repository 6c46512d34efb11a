using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
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
    private const string Tag = "Cloud API";

    public void MapEndpoints(RouteGroupBuilder tenants)
    {
        var group = tenants.MapGroup("/{business_id}/cloud-api");
        group.MapPut("/credentials", CredentialsEndpoints.PutAsync)
            .WithName("PutCloudApiCredentials")
            .WithJsonRequestBody<CredentialsRequest>()
            .WithSummary("Sets the tenant's Cloud API credentials; the token is stored encrypted and never returned.")
            .WithTags(Tag)
            .WithMetadata(Problems(400, 403, 409, 413, 415));
        group.MapGet("/credentials", CredentialsEndpoints.GetAsync)
            .WithName("GetCloudApiCredentials")
            .WithSummary("Gets the tenant's Cloud API credentials without the token.")
            .WithTags(Tag)
            .WithMetadata(Problems(400, 403, 404));
        group.MapDelete("/credentials", CredentialsEndpoints.DeleteAsync)
            .WithName("DeleteCloudApiCredentials")
            .WithSummary("Deletes the tenant's Cloud API credentials.")
            .WithTags(Tag)
            .WithMetadata(Problems(400, 403, 404));
    }

    private static object[] Problems(params int[] statusCodes) =>
        [.. statusCodes.Select(static code => new ProducesResponseTypeMetadata(code, typeof(ProblemDetails), ["application/problem+json"]))];
}

