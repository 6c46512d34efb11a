using Microsoft.AspNetCore.Http;
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

    /// <summary>Creates a key (admin only): 201 <c>{"id","key","business_id","created_at"}</c>; 400 invalid id. The body is ignored.</summary>
    public static async Task CreateAsync(HttpContext context)
    {
        if (await RouteTenantAsync(context).ConfigureAwait(false) is not { } tenant)
        {
            return;
        }

        string key = TenantApiKeys.Generate();
        var record = await Store(context).CreateAsync(tenant, TenantApiKeys.Hash(key), context.RequestAborted).ConfigureAwait(false);
        var body = new ApiKeyCreatedResponse
        {
            Id = record.Id.ToString("D"),
            Key = key,
            BusinessId = tenant.Value,
            CreatedAt = Rfc3339.Format(record.CreatedAt),
        };
        context.Response.StatusCode = StatusCodes.Status201Created;
        context.Response.Headers.Location = $"{context.Request.PathBase}{context.Request.Path.Value?.TrimEnd('/')}/{body.Id}";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsJsonAsync(body, ApiJson.Context.ApiKeyCreatedResponse, contentType: null, context.RequestAborted)
            .ConfigureAwait(false);
    }

    /// <summary>Lists the tenant's unrevoked keys without secrets: 200 <c>[{"id","business_id","created_at"}]</c>; 400.</summary>
    public static async Task ListAsync(HttpContext context)
    {
        if (await RouteTenantAsync(context).ConfigureAwait(false) is not { } tenant)
        {
            return;
        }

        var records = await Store(context).ListAsync(tenant, context.RequestAborted).ConfigureAwait(false);
        var body = records
            .Select(r => new ApiKeyResponse { Id = r.Id.ToString("D"), BusinessId = tenant.Value, CreatedAt = Rfc3339.Format(r.CreatedAt) })
            .ToArray();
        await context.Response.WriteAsJsonAsync(body, ApiJson.Context.ApiKeyResponseArray, contentType: null, context.RequestAborted)
            .ConfigureAwait(false);
    }

    /// <summary>Revokes a key, effective at once on every host: 204; 400 invalid id, 404 no such key of this tenant.</summary>
    public static async Task RevokeAsync(HttpContext context)
    {
        if (await RouteTenantAsync(context).ConfigureAwait(false) is not { } tenant)
        {
            return;
        }

        if (!Guid.TryParseExact(context.Request.RouteValues[KeyIdRouteValue] as string, "D", out var id))
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "The key id must be a UUID such as '0f8fad5b-d9cb-469f-a165-70867728950e'.")
                .ConfigureAwait(false);
            return;
        }

        if (!await Store(context).RevokeAsync(tenant, id, context.RequestAborted).ConfigureAwait(false))
        {
            await Problems.WriteAsync(context, StatusCodes.Status404NotFound, $"Tenant '{tenant}' has no key '{id:D}'.").ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static ITenantApiKeyStore Store(HttpContext context) => context.RequestServices.GetRequiredService<ITenantApiKeyStore>();

    private static async ValueTask<TenantId?> RouteTenantAsync(HttpContext context)
    {
        string? businessId = context.Request.RouteValues[TenantApiHandlers.BusinessIdRouteValue] as string;
        if (TenantId.Validate(businessId) is { } invalid)
        {
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, invalid).ConfigureAwait(false);
            return null;
        }

        return TenantId.Parse(businessId!);
    }
}
