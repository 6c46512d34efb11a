using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using MultiTenant.AspNetCore.Http;
using MultiTenant.AspNetCore.Security;

namespace MultiTenant.AspNetCore.OpenApi;

/// <summary>
/// The tenant API's part of the OpenAPI document: a description, the two API key security schemes, on every operation that requires
/// one of the API's policies the requirement "either scheme", and <see cref="TenantId"/> as the string it is on the wire.
/// </summary>
internal sealed class TenantApiOpenApiTransformer : IOpenApiDocumentTransformer, IOpenApiOperationTransformer, IOpenApiSchemaTransformer
{
    public const string BearerScheme = "Bearer";
    public const string ApiKeyScheme = "ApiKey";

    public static readonly TenantApiOpenApiTransformer Instance = new();

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info ??= new OpenApiInfo();
        if (string.IsNullOrEmpty(document.Info.Description))
        {
            document.Info.Description =
                "The MultiTenant tenant API: start, stop, read and send for WhatsApp accounts (tenants) keyed by business_id. "
                + "Every /api call needs an API key, as 'Authorization: Bearer <key>' or 'X-Api-Key: <key>': the admin key, or a tenant key "
                + "that acts for its own tenant only. Errors are RFC 9457 problem details (application/problem+json).";
        }

        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal);
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "An API key as 'Authorization: Bearer <key>'.",
        };
        document.Components.SecuritySchemes[ApiKeyScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = TenantApiAuthentication.ApiKeyHeader,
            Description = "An API key as 'X-Api-Key: <key>'.",
        };
        return Task.CompletedTask;
    }

    public async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        bool keyed = false;
        foreach (object item in metadata)
        {
            if (item is IAllowAnonymous)
            {
                return;
            }

            if (item is IAuthorizeData { Policy: TenantApiAuthentication.TenantScopePolicy or TenantApiAuthentication.AdminPolicy })
            {
                keyed = true;
            }
        }

        if (!keyed)
        {
            return;
        }

        // Two requirements: either scheme will do.
        operation.Security ??= [];
        operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] });
        operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyScheme, context.Document)] = [] });

        operation.Responses ??= [];
        if (!operation.Responses.ContainsKey("401"))
        {
            var problem = await context.GetOrCreateSchemaAsync(typeof(ProblemDetails), parameterDescription: null, cancellationToken).ConfigureAwait(false);
            operation.Responses["401"] = new OpenApiResponse
            {
                Description = "No API key, or an unknown or revoked one (with WWW-Authenticate: Bearer).",
                Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal) { [Problems.ContentType] = new OpenApiMediaType { Schema = problem } },
            };
        }
    }

    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonTypeInfo.Type == typeof(TenantId))
        {
            // A route value (and a JSON string in bodies): the rules of TenantId.Validate.
            schema.Type = JsonSchemaType.String;
            schema.Properties?.Clear();
            schema.Required?.Clear();
            schema.MinLength = 1;
            schema.MaxLength = TenantId.MaxLength;
            schema.Pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$";
            schema.Description = "A business id: 1 to 64 characters, a letter or digit first, then letters, digits, '.', '_' and '-'.";
        }

        return Task.CompletedTask;
    }
}
