using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Security;

namespace MultiTenant.AspNetCore.Api;

/// <summary>
/// <c>POST|GET {prefix}/{business_id}/keys</c> and <c>DELETE {prefix}/{business_id}/keys/{id}</c>: tenant API keys. The key is
/// returned once, by the POST; the store keeps its hash only.
/// </summary>
internal static class TenantApiKeyHandlers
{
    public const string KeyIdRouteValue = "id";

    /// <summary>Creates an API key scoped to the tenant (admin only): 201, the key shown once; 400 invalid id. A body is ignored.</summary>
    public static async Task<Created<ApiKeyCreatedResponse>> CreateAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        string key = TenantApiKeys.Generate();
        var record = await Store(context).CreateAsync(tenant, TenantApiKeys.Hash(key), context.RequestAborted).ConfigureAwait(false);
        var body = new ApiKeyCreatedResponse
        {
            Id = record.Id.ToString("D"),
            Key = key,
            BusinessId = tenant.Value,
            CreatedAt = Rfc3339.Format(record.CreatedAt),
        };
        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Created($"{context.Request.PathBase}{context.Request.Path.Value?.TrimEnd('/')}/{body.Id}", body);
    }

    /// <summary>Lists the tenant's unrevoked API keys, without secrets: 200; 400 invalid id.</summary>
    public static async Task<Ok<ApiKeyResponse[]>> ListAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant, HttpContext context)
    {
        var records = await Store(context).ListAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        var body = records
            .Select(r => new ApiKeyResponse { Id = r.Id.ToString("D"), BusinessId = tenant.Value, CreatedAt = Rfc3339.Format(r.CreatedAt) })
            .ToArray();
        return TypedResults.Ok(body);
    }

    /// <summary>Revokes a key, effective at once on every host: 204; 400 invalid id, 404 no such key of this tenant.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(
        [FromRoute(Name = TenantApiHandlers.BusinessIdRouteValue)] TenantId tenant,
        [FromRoute(Name = KeyIdRouteValue)] string id,
        HttpContext context)
    {
        if (!Guid.TryParseExact(id, "D", out var keyId))
        {
            return TypedProblems.Problem(context, StatusCodes.Status400BadRequest, "The key id must be a UUID such as '0f8fad5b-d9cb-469f-a165-70867728950e'.");
        }

        if (!await Store(context).RevokeAsync(tenant, keyId, context.RequestAborted).ConfigureAwait(false))
        {
            return TypedProblems.Problem(context, StatusCodes.Status404NotFound, $"Tenant '{tenant}' has no key '{keyId:D}'.");
        }

        return TypedResults.NoContent();
    }

    private static ITenantApiKeyStore Store(HttpContext context) => context.RequestServices.GetRequiredService<ITenantApiKeyStore>();
}
