using System.Diagnostics;
using MultiTenant.Diagnostics;

namespace MultiTenant.CloudApi.Diagnostics;

/// <summary>This package's instance of the <see cref="TenantTracing.ActivitySourceName"/> source (spans listed on <see cref="TenantTracing"/>).</summary>
internal static class Tracing
{
    public static readonly ActivitySource Source = new(TenantTracing.ActivitySourceName, typeof(Tracing).Assembly.GetName().Version?.ToString());
}
