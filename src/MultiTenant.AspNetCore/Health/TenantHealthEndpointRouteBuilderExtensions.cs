using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MultiTenant.AspNetCore;
using MultiTenant.AspNetCore.Health;
using MultiTenant.AspNetCore.Http;
using MultiTenant.Diagnostics;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps <c>/health</c>, <c>/ready</c> and <c>/livez</c> (SPEC §4).</summary>
public static class TenantHealthEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the health endpoints on ASP.NET Core's health check middleware, with the checks that <c>AddWhatsAppTenants()</c> registers:
    /// <list type="bullet">
    /// <item><c>/health</c>: <c>{"status":"healthy|degraded|unhealthy","timestamp":"…","components":{"database":{"status","timestamp",
    /// "details":{"backend","latency":"2ms","acquired":5,"idle":15,"max":20}},"liveness":{"status","timestamp"}}}</c>; 200 when healthy
    /// or degraded, 503 when unhealthy. Every check tagged <see cref="TenantHealthChecks.HealthTag"/> is a component.</item>
    /// <item><c>/ready</c>: 200 <c>{"ready":true,"total":5,"connected":3}</c> when at least one tenant is connected, otherwise 503 with
    /// <c>"ready":false</c>; 503 as soon as the host starts shutting down. Checks tagged <see cref="TenantHealthChecks.ReadyTag"/>.</item>
    /// <item><c>/livez</c>: 200 <c>{"status":"healthy"}</c> while the process answers; no dependency is checked, so a database outage
    /// never makes an orchestrator restart the host.</item>
    /// </list>
    /// Timestamps are RFC 3339 UTC (<c>2025-01-07T10:00:05Z</c>) from the <see cref="TimeProvider"/> in DI. Responses are never cached and
    /// never carry exception text.
    /// </summary>
    /// <param name="endpoints">The application or a route group.</param>
    /// <param name="configure">Changes the paths (defaults <c>/health</c>, <c>/ready</c>, <c>/livez</c>).</param>
    /// <returns>A convention builder that applies to all three endpoints (for <c>RequireHost</c>, <c>RequireAuthorization</c>, …).</returns>
    /// <exception cref="InvalidOperationException"><c>AddWhatsAppTenants()</c> was not called, or the paths are invalid.</exception>
    public static IEndpointConventionBuilder MapTenantHealthChecks(this IEndpointRouteBuilder endpoints, Action<TenantHealthEndpointOptions>? configure = null)
    {
        RequiredServices.ThrowIfTenantsMissing(endpoints, nameof(MapTenantHealthChecks));
        var options = new TenantHealthEndpointOptions();
        configure?.Invoke(options);
        options.Validate();

        var writers = new HealthResponseWriters(endpoints.ServiceProvider.GetService<TimeProvider>() ?? TimeProvider.System);
        var statusCodes = new Dictionary<HealthStatus, int>
        {
            [HealthStatus.Healthy] = StatusCodes.Status200OK,
            [HealthStatus.Degraded] = StatusCodes.Status200OK,
            [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
        };

        // One group with an empty prefix, so a convention added to the returned builder reaches all three endpoints.
        var group = endpoints.MapGroup(string.Empty);
        group.MapHealthChecks(options.HealthPath, new HealthCheckOptions
        {
            Predicate = static registration => registration.Tags.Contains(TenantHealthChecks.HealthTag),
            ResponseWriter = writers.WriteHealthAsync,
            ResultStatusCodes = new Dictionary<HealthStatus, int>(statusCodes),
        }).WithDisplayName("MultiTenant health");
        group.MapHealthChecks(options.ReadyPath, new HealthCheckOptions
        {
            Predicate = static registration => registration.Tags.Contains(TenantHealthChecks.ReadyTag),
            ResponseWriter = writers.WriteReadyAsync,
            ResultStatusCodes = new Dictionary<HealthStatus, int>(statusCodes),
        }).WithDisplayName("MultiTenant readiness");
        group.MapHealthChecks(options.LivenessPath, new HealthCheckOptions
        {
            Predicate = static _ => false,
            ResponseWriter = writers.WriteLivenessAsync,
            ResultStatusCodes = new Dictionary<HealthStatus, int>(statusCodes),
        }).WithDisplayName("MultiTenant liveness");
        return group;
    }
}
