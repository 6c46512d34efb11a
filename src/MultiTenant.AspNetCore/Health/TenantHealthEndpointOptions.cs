namespace MultiTenant.AspNetCore;

/// <summary>Paths of the endpoints mapped by <c>MapTenantHealthChecks()</c>.</summary>
public sealed class TenantHealthEndpointOptions
{
    /// <summary>
    /// The health endpoint: the <c>database</c> and <c>liveness</c> components (checks tagged
    /// <see cref="global::MultiTenant.Diagnostics.TenantHealthChecks.HealthTag"/>); 200 unless unhealthy (503). Default <c>/health</c>.
    /// </summary>
    public string HealthPath { get; set; } = "/health";

    /// <summary>
    /// The readiness endpoint: 200 when at least one tenant is connected and the host is not shutting down, otherwise 503
    /// (checks tagged <see cref="global::MultiTenant.Diagnostics.TenantHealthChecks.ReadyTag"/>). Default <c>/ready</c>.
    /// </summary>
    public string ReadyPath { get; set; } = "/ready";

    /// <summary>The liveness endpoint for orchestrators: checks no dependency, always 200 while the process answers. Default <c>/livez</c>.</summary>
    public string LivenessPath { get; set; } = "/livez";

    internal void Validate()
    {
        Check(HealthPath, nameof(HealthPath));
        Check(ReadyPath, nameof(ReadyPath));
        Check(LivenessPath, nameof(LivenessPath));
        if (string.Equals(HealthPath, ReadyPath, StringComparison.OrdinalIgnoreCase)
            || string.Equals(HealthPath, LivenessPath, StringComparison.OrdinalIgnoreCase)
            || string.Equals(ReadyPath, LivenessPath, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException("The health, readiness and liveness paths of MapTenantHealthChecks() must differ.");
        }
    }

    private static void Check(string? path, string name)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/')
        {
            throw new InvalidOperationException($"TenantHealthEndpointOptions.{name} must be a path starting with '/'; it is '{path}'.");
        }
    }
}
