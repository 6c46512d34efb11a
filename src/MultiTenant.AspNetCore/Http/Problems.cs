using System.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace MultiTenant.AspNetCore.Http;

/// <summary>
/// Writes RFC 9457 problem details (<c>application/problem+json</c>). The library cannot configure the host's pipeline
/// (<c>AddProblemDetails</c>, exception handlers), so its endpoints write their problems themselves, the same way whatever the host set up.
/// </summary>
internal static class Problems
{
    public const string ContentType = "application/problem+json";

    /// <summary>Writes a problem with <paramref name="detail"/>, a human-readable text that never carries exception text.</summary>
    public static Task WriteAsync(HttpContext context, int statusCode, string detail, string? errorCode = null)
    {
        var (type, title) = Describe(statusCode);
        var problem = new ProblemResponse
        {
            Type = type,
            Title = title,
            Status = statusCode,
            Detail = detail,
            ErrorCode = errorCode,
            TraceId = Activity.Current?.Id ?? context.TraceIdentifier,
        };
        context.Response.StatusCode = statusCode;
        return context.Response.WriteAsJsonAsync(problem, ApiJson.Context.ProblemResponse, ContentType, CancellationToken.None);
    }

    /// <summary>Sets <c>Retry-After</c> to <paramref name="retryAfter"/> in whole seconds, rounded up, at least 1; returns the seconds.</summary>
    public static long SetRetryAfter(HttpContext context, TimeSpan retryAfter)
    {
        long seconds = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return seconds;
    }

    internal static (string Type, string Title) Describe(int statusCode) => statusCode switch
    {
        StatusCodes.Status400BadRequest => ("https://tools.ietf.org/html/rfc9110#section-15.5.1", "Bad Request"),
        StatusCodes.Status401Unauthorized => ("https://tools.ietf.org/html/rfc9110#section-15.5.2", "Unauthorized"),
        StatusCodes.Status403Forbidden => ("https://tools.ietf.org/html/rfc9110#section-15.5.4", "Forbidden"),
        StatusCodes.Status404NotFound => ("https://tools.ietf.org/html/rfc9110#section-15.5.5", "Not Found"),
        StatusCodes.Status409Conflict => ("https://tools.ietf.org/html/rfc9110#section-15.5.10", "Conflict"),
        StatusCodes.Status413PayloadTooLarge => ("https://tools.ietf.org/html/rfc9110#section-15.5.14", "Content Too Large"),
        StatusCodes.Status415UnsupportedMediaType => ("https://tools.ietf.org/html/rfc9110#section-15.5.16", "Unsupported Media Type"),
        StatusCodes.Status422UnprocessableEntity => ("https://tools.ietf.org/html/rfc9110#section-15.5.21", "Unprocessable Content"),
        StatusCodes.Status429TooManyRequests => ("https://tools.ietf.org/html/rfc6585#section-4", "Too Many Requests"),
        StatusCodes.Status500InternalServerError => ("https://tools.ietf.org/html/rfc9110#section-15.6.1", "Internal Server Error"),
        StatusCodes.Status502BadGateway => ("https://tools.ietf.org/html/rfc9110#section-15.6.3", "Bad Gateway"),
        StatusCodes.Status503ServiceUnavailable => ("https://tools.ietf.org/html/rfc9110#section-15.6.4", "Service Unavailable"),
        _ => ("about:blank", ReasonPhrase(statusCode)),
    };

    private static string ReasonPhrase(int statusCode) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(statusCode) is { Length: > 0 } phrase ? phrase : "Error";
}

/// <summary>
/// Problem details results (RFC 9457) for typed endpoints, the same document <see cref="Problems"/> writes: <c>type</c> and <c>title</c>
/// for the status, a readable <c>detail</c>, the snake_case <c>trace_id</c> and an optional <c>error_code</c>.
/// </summary>
internal static class TypedProblems
{
    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Problem(HttpContext context, int statusCode, string detail, string? errorCode = null)
    {
        var extensions = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["trace_id"] = Activity.Current?.Id ?? context.TraceIdentifier,
        };
        if (errorCode is not null)
        {
            extensions["error_code"] = errorCode;
        }

        var (type, title) = Problems.Describe(statusCode);
        return TypedResults.Problem(detail: detail, statusCode: statusCode, title: title, type: type, extensions: extensions);
    }

    /// <summary>The 404 of a tenant no store knows.</summary>
    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult TenantNotFound(HttpContext context, TenantId tenant) =>
        Problem(context, StatusCodes.Status404NotFound, NotFoundDetail(tenant));

    /// <summary>The detail of <see cref="TenantNotFound"/>.</summary>
    public static string NotFoundDetail(TenantId tenant) => $"Tenant '{tenant}' is not known.";
}
