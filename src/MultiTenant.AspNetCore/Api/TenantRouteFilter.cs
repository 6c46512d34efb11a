using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MultiTenant.AspNetCore.Diagnostics;
using MultiTenant.AspNetCore.Http;

namespace MultiTenant.AspNetCore.Api;

/// <summary>
/// The endpoint filter of the typed tenant API endpoints, so that a handler only ever sees a valid request:
/// <list type="bullet">
/// <item>when a route's <c>business_id</c> failed to bind to <see cref="TenantId"/> (the framework then sets 400 and skips the handler,
/// but still runs the filters), answers 400 problem details whose <c>detail</c> says what is wrong with the id, instead of an empty 400;</item>
/// <item>when a request body record (<see cref="ITenantApiRequest"/>) was refused while binding, answers its problem (400, 413, 415).</item>
/// </list>
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
            Rejected(http, StatusCodes.Status400BadRequest, detail);
            return ValueTask.FromResult<object?>(TypedProblems.Problem(http, StatusCodes.Status400BadRequest, detail));
        }

        for (int i = 0; i < context.Arguments.Count; i++)
        {
            if (context.Arguments[i] is ITenantApiRequest { Problem: { } problem })
            {
                Rejected(http, problem.StatusCode, problem.ProblemDetails.Detail ?? string.Empty);
                return ValueTask.FromResult<object?>(problem);
            }
        }

        return next(context);
    }

    private static void Rejected(HttpContext http, int statusCode, string detail)
    {
        if (http.RequestServices.GetService<ILoggerFactory>() is { } loggers)
        {
            Log.RequestRejected(loggers.CreateLogger("MultiTenant.AspNetCore.TenantApi"), http.GetEndpoint()?.DisplayName ?? "?", statusCode, detail);
        }
    }
}
