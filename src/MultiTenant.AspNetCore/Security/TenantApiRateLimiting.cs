using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Diagnostics;
using MultiTenant.AspNetCore.Http;

namespace MultiTenant.AspNetCore.Security;

/// <summary>
/// Puts <c>MapTenantApi()</c>'s group under the rate limiter policy <see cref="TenantApiRateLimitOptions.PolicyName"/>, and makes a
/// host that forgot <c>app.UseRateLimiter()</c> visible: the endpoints then answer 500 problem details and log, once, what to add.
/// Without the middleware the policy would silently not apply, so the API fails closed rather than run unlimited.
/// </summary>
internal static class TenantApiRateLimiting
{
    public static void Apply(RouteGroupBuilder group, IServiceProvider services, ILogger logger)
    {
        var options = services.GetService<IOptions<TenantApiRateLimitOptions>>()?.Value ?? new TenantApiRateLimitOptions();
        options.Validate();
        if (!options.Enabled)
        {
            return;
        }

        group.RequireRateLimiting(TenantApiRateLimitOptions.PolicyName);
        var reported = new StrongBox<int>();
        ((IEndpointConventionBuilder)group).Finally(endpoint =>
        {
            if (endpoint.RequestDelegate is not { } inner || !UsesPolicy(endpoint.Metadata))
            {
                return;
            }

            string name = endpoint.DisplayName ?? "endpoint";
            endpoint.RequestDelegate = context => context.Items.ContainsKey(TenantApiRateLimitPolicy.InvokedKey)
                ? inner(context)
                : RefuseAsync(context, name, reported, logger);
        });
    }

    /// <summary>Whether the endpoint's effective rate limiting metadata (the last one wins) is the API's policy.</summary>
    private static bool UsesPolicy(IList<object> metadata)
    {
        for (int i = metadata.Count - 1; i >= 0; i--)
        {
            switch (metadata[i])
            {
                case DisableRateLimitingAttribute:
                    return false;
                case EnableRateLimitingAttribute enable:
                    return string.Equals(enable.PolicyName, TenantApiRateLimitOptions.PolicyName, StringComparison.Ordinal);
            }
        }

        return false;
    }

    private static Task RefuseAsync(HttpContext context, string endpoint, StrongBox<int> reported, ILogger logger)
    {
        if (Interlocked.Exchange(ref reported.Value, 1) == 0)
        {
            Log.RateLimiterMissing(logger, endpoint);
        }

        return Problems.WriteAsync(
            context,
            StatusCodes.Status500InternalServerError,
            "The server is not set up to serve this API (its rate limiter is missing); the server's log says what to change.",
            "server_misconfigured");
    }
}
