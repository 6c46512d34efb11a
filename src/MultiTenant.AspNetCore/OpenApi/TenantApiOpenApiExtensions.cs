using Microsoft.AspNetCore.OpenApi;
using MultiTenant.AspNetCore.OpenApi;
using MultiTenant.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the tenant API's OpenAPI document.</summary>
public static class TenantApiOpenApiExtensions
{
    /// <summary>The default name of the document: <c>v1</c>, served by <c>app.MapOpenApi()</c> at <c>/openapi/v1.json</c>.</summary>
    public const string DefaultDocumentName = "v1";

    /// <summary>
    /// Registers an OpenAPI document (<c>Microsoft.AspNetCore.OpenApi</c>) of the endpoints the application maps, the tenant API
    /// (<c>MapTenantApi()</c>) and every endpoint contributed to it included, with their request and response schemas, and the API key
    /// security schemes <c>Bearer</c> (<c>Authorization: Bearer &lt;key&gt;</c>) and <c>ApiKey</c> (<c>X-Api-Key: &lt;key&gt;</c>), which
    /// every operation that requires a key lists as alternatives. Serve it with <c>app.MapOpenApi()</c> (<c>/openapi/v1.json</c> by
    /// default); the document holds no secret, so it may be served without a key, or behind the admin key with
    /// <c>app.MapOpenApi().RequireAuthorization(TenantApiAuthentication.AdminPolicy)</c>.
    /// </summary>
    /// <param name="builder">The tenants builder.</param>
    /// <param name="documentName">The document name. Default <c>v1</c> (<see cref="DefaultDocumentName"/>).</param>
    /// <param name="configure">Further options of the document (title, more transformers), applied after the tenant API's.</param>
    /// <returns>The builder.</returns>
    public static WhatsAppTenantsBuilder AddTenantApiOpenApi(
        this WhatsAppTenantsBuilder builder, string documentName = DefaultDocumentName, Action<OpenApiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(documentName);
        builder.Services.AddOpenApi(documentName, options =>
        {
            options.AddDocumentTransformer(TenantApiOpenApiTransformer.Instance);
            options.AddOperationTransformer(TenantApiOpenApiTransformer.Instance);
            options.AddSchemaTransformer(TenantApiOpenApiTransformer.Instance);
            configure?.Invoke(options);
        });
        return builder;
    }
}
