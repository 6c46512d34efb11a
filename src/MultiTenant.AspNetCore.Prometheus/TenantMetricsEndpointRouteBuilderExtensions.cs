using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.Hosting;
using OpenTelemetry.Metrics;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the Prometheus <c>/metrics</c> endpoint (SPEC §6).</summary>
public static class TenantMetricsEndpointRouteBuilderExtensions
{
    /// <summary>The default path of the metrics endpoint: <c>/metrics</c>.</summary>
    public const string DefaultPath = "/metrics";

    /// <summary>
    /// Maps OpenTelemetry's Prometheus scraping endpoint at <paramref name="path"/>: the Prometheus text format (or OpenMetrics when
    /// the scraper asks for it) with MultiTenant's series (<c>whatsmeow_tenants_total</c>, <c>whatsmeow_tenant_messages_total</c>, ...).
    /// The endpoint is anonymous by default (restrict it by network policy, <c>RequireHost()</c> or an internal port); to require the
    /// tenant API's admin key, add <c>.RequireAuthorization(TenantApiAuthentication.AdminPolicy)</c> (MultiTenant.AspNetCore) to the
    /// returned builder: anonymous scrapes are then answered 401 with <c>WWW-Authenticate: Bearer</c>.
    /// </summary>
    /// <param name="endpoints">The application or a route group.</param>
    /// <param name="path">The path. Default <c>/metrics</c>.</param>
    /// <returns>The endpoint's convention builder.</returns>
    /// <exception cref="InvalidOperationException"><c>AddWhatsAppTenants()</c> or <c>AddPrometheusMetrics()</c> (or an OpenTelemetry
    /// meter provider with the Prometheus exporter) was not added.</exception>
    public static IEndpointConventionBuilder MapTenantMetrics(this IEndpointRouteBuilder endpoints, string path = DefaultPath)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (endpoints.ServiceProvider.GetService<IServiceProviderIsService>()?.IsService(typeof(ITenantCoordinator)) != true)
        {
            throw new InvalidOperationException(
                "MapTenantMetrics() needs the tenant coordinator, whose meter it exports. Call builder.Services.AddWhatsAppTenants() " +
                "when configuring services, before building the application.");
        }

        const string howTo =
            "Call builder.Services.AddWhatsAppTenants().AddPrometheusMetrics() (or services.AddOpenTelemetry().WithMetrics(b => " +
            "b.AddMeter(TenantMetrics.MeterName).AddPrometheusExporter())) when configuring services.";
        if (endpoints.ServiceProvider.GetService<MeterProvider>() is not { } meterProvider)
        {
            throw new InvalidOperationException("MapTenantMetrics() needs an OpenTelemetry meter provider, which is not registered. " + howTo);
        }

        try
        {
            return endpoints.MapPrometheusScrapingEndpoint(path, meterProvider, configureBranchedPipeline: null, optionsName: null);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException("MapTenantMetrics() needs the Prometheus exporter on the OpenTelemetry meter provider. " + howTo, ex);
        }
    }
}
