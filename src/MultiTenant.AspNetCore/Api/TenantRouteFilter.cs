using Microsoft.AspNetCore.Http;

namespace MultiTenant.AspNetCore.Api;

/// <summary>
/// An endpoint filter of the typed tenant API endpoints: when a route's <c>business_id</c> failed to bind to <see cref="TenantId"/>
/// (the framework then sets 400 and skips the handler, but still runs the filters), answers 400 problem details whose <c>detail</c> says
/// what is wrong with the id, instead of an empty 400.
/// </summary>
internal sealed class TenantRouteFilter : IEndpointFilter
{
    public static readonly TenantRouteFilter Instance = new();

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (http.Response.StatusCode >= StatusCodes.Status400BadRequest)
        {
            string? raw = http.Request.RouteValues[TenantApiHandlers.BusinessIdRouteValue] as string;
            string detail = TenantId.Validate(raw) ?? "The request is not valid.";
            return ValueTask.FromResult<object?>(TypedProblems.Problem(http, StatusCodes.Status400BadRequest, detail));
        }

        return next(context);
    }
}

/// <summary>Problem details results (RFC 9457) with the API's snake_case <c>trace_id</c> and optional <c>error_code</c>.</summary>
internal static class TypedProblems
{
    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Problem(HttpContext context, int statusCode, string detail, string? errorCode = null)
    {
        var extensions = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["trace_id"] = System.Diagnostics.Activity.Current?.Id ?? context.TraceIdentifier,
        };
        if (errorCode is not null)
        {
            extensions["error_code"] = errorCode;
        }

        return TypedResults.Problem(detail: detail, statusCode: statusCode, extensions: extensions);
    }
}
