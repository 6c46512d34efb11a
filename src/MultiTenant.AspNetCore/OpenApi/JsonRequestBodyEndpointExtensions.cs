using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Microsoft.AspNetCore.Builder;

/// <summary>OpenAPI conventions of endpoints that read their JSON body themselves.</summary>
public static class JsonRequestBodyEndpointExtensions
{
    /// <summary>
    /// Declares in the OpenAPI document that the endpoint takes a required <c>application/json</c> body of <typeparamref name="TRequest"/>
    /// (its schema from the host's JSON options), for a body the endpoint reads itself, for example in <typeparamref name="TRequest"/>'s
    /// <c>BindAsync</c> with <c>MultiTenant.AspNetCore.Http.StrictJsonBody</c>. Unlike <c>Accepts&lt;T&gt;()</c> it adds no
    /// <c>IAcceptsMetadata</c>, with which routing would answer a body of another media type 415 with an empty body before the endpoint
    /// could answer problem details.
    /// </summary>
    /// <typeparam name="TRequest">The type whose JSON shape the body has.</typeparam>
    /// <param name="builder">The endpoint.</param>
    /// <returns>The endpoint.</returns>
    public static RouteHandlerBuilder WithJsonRequestBody<TRequest>(this RouteHandlerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddOpenApiOperationTransformer(static async (operation, context, cancellationToken) =>
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(TRequest), parameterDescription: null, cancellationToken).ConfigureAwait(false);
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal) { ["application/json"] = new OpenApiMediaType { Schema = schema } },
            };
        });
    }
}
