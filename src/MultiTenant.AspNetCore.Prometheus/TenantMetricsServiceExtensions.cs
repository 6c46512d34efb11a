using Microsoft.Extensions.DependencyInjection.Extensions;
using MultiTenant.Diagnostics;
using MultiTenant.Hosting;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Exports MultiTenant's metrics in the Prometheus text format (SPEC §6).</summary>
public static class TenantMetricsServiceExtensions
{
    /// <summary>
    /// Adds OpenTelemetry metrics (<c>services.AddOpenTelemetry().WithMetrics(...)</c>) with the <see cref="TenantMetrics.MeterName"/>
    /// meter and the Prometheus exporter, whose endpoint <c>MapTenantMetrics()</c> maps. The series are named as SPEC §6 says:
    /// <c>whatsmeow_tenants_total</c>, <c>whatsmeow_tenants_connected</c>, <c>whatsmeow_tenants_disconnected</c>,
    /// <c>whatsmeow_tenant_messages_total{business_id}</c>, <c>whatsmeow_tenant_errors_total{business_id}</c>,
    /// <c>whatsmeow_tenant_reconnects_total{business_id}</c>, <c>whatsmeow_handler_duration_seconds</c>, <c>whatsmeow_queue_depth</c>,
    /// <c>whatsmeow_db_pool_connections{state}</c>, ... Other meters can be added to the same provider with
    /// <c>services.AddOpenTelemetry().WithMetrics(b =&gt; b.AddMeter(...))</c>; an OTLP exporter can be added next to this one.
    /// Calling it again adds nothing twice (its <paramref name="configure"/> still applies).
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddWhatsAppTenants()</c>.</param>
    /// <param name="configure">Configures the exporter (defaults of OpenTelemetry: responses cached for 300 ms, scope labels and
    /// <c>target_info</c> on). Its <c>ScrapeEndpointPath</c> is not used: <c>MapTenantMetrics(path)</c> sets the path.</param>
    /// <returns>The builder.</returns>
    public static WhatsAppTenantsBuilder AddPrometheusMetrics(this WhatsAppTenantsBuilder builder, Action<PrometheusAspNetCoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (configure is not null)
        {
            services.Configure(configure);
        }

        if (services.Any(static d => d.ServiceType == typeof(PrometheusMetricsMarker)))
        {
            return builder;
        }

        services.TryAddSingleton<PrometheusMetricsMarker>();
        services.AddOpenTelemetry().WithMetrics(static metrics => metrics
            .AddMeter(TenantMetrics.MeterName)
            .AddPrometheusExporter());
        return builder;
    }

    /// <summary>Marks that <see cref="AddPrometheusMetrics"/> ran, so a second call adds nothing twice.</summary>
    internal sealed class PrometheusMetricsMarker;
}
