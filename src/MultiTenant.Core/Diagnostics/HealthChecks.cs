using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MultiTenant.Hosting;
using MultiTenant.Storage;

namespace MultiTenant.Diagnostics;

/// <summary>Names and tags of the health checks that <c>AddWhatsAppTenants()</c> registers.</summary>
public static class TenantHealthChecks
{
    /// <summary>The storage backend check (<c>database</c>): a round trip, with latency and pool figures.</summary>
    public const string DatabaseCheckName = "database";

    /// <summary>The liveness check (<c>liveness</c>): the process answers.</summary>
    public const string LivenessCheckName = "liveness";

    /// <summary>The readiness check (<c>tenants</c>): at least one tenant connected and the host not shutting down.</summary>
    public const string ReadinessCheckName = "tenants";

    /// <summary>Tag of the checks that make up <c>/health</c>.</summary>
    public const string HealthTag = "multitenant-health";

    /// <summary>Tag of the checks that make up <c>/ready</c>.</summary>
    public const string ReadyTag = "multitenant-ready";
}

/// <summary>The <c>database</c> component: probes the store. Never puts exception text in its result.</summary>
internal sealed class StoreHealthCheck(ITenantStoreHealth store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        StoreHealthReport report;
        try
        {
            report = await store.CheckAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            report = new StoreHealthReport(false, TimeSpan.Zero, 0, 0, 0, "The storage backend did not answer.");
        }

        var data = new Dictionary<string, object>
        {
            ["backend"] = store.Backend,
            ["latency"] = FormatLatency(report.Latency),
            ["acquired"] = report.Acquired,
            ["idle"] = report.Idle,
            ["max"] = report.Max,
        };
        return report.Healthy
            ? HealthCheckResult.Healthy(data: data)
            : new HealthCheckResult(context.Registration.FailureStatus, report.Problem ?? "The storage backend is unavailable.", data: data);
    }

    internal static string FormatLatency(TimeSpan latency) =>
        latency.TotalMilliseconds >= 1
            ? ((long)Math.Round(latency.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms"
            : ((long)Math.Round(latency.TotalMicroseconds)).ToString(CultureInfo.InvariantCulture) + "µs";
}

/// <summary>The <c>liveness</c> component: the process answers.</summary>
internal sealed class LivenessHealthCheck : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(HealthCheckResult.Healthy());
}

/// <summary>Readiness: at least one tenant connected and the host not shutting down. Data: <c>total</c>, <c>connected</c>.</summary>
internal sealed class TenantReadinessHealthCheck(ITenantCoordinator coordinator) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var counts = coordinator.Counts;
        var data = new Dictionary<string, object> { ["total"] = counts.Total, ["connected"] = counts.Connected };
        if (coordinator.IsStopping)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The host is shutting down.", data: data));
        }

        return Task.FromResult(counts.Connected > 0
            ? HealthCheckResult.Healthy(data: data)
            : HealthCheckResult.Unhealthy("No tenant is connected.", data: data));
    }
}
