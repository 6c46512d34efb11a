using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.Clients;
using MultiTenant.Storage;
using NSubstitute;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>
/// Runs alone: an OpenTelemetry meter provider listens to every <c>Meter</c> named <c>MultiTenant</c> in the process, so the apps of
/// tests running in parallel would add their instruments to this scrape.
/// </summary>
[CollectionDefinition(nameof(MetricsCollection), DisableParallelization = true)]
public sealed class MetricsCollection;

/// <summary><c>/metrics</c> (SPEC §6): the exporter's output carries exactly the SPEC names.</summary>
[Collection(nameof(MetricsCollection))]
public sealed class MetricsEndpointTests
{
    /// <summary>Drives every instrument once: connect, reconnect, a sent message, a refused send, a handled event, a pool.</summary>
    private static async Task<TestApp> StartBusyAppAsync()
    {
        var store = Substitute.For<ITenantStoreHealth>();
        store.Backend.Returns("postgresql");
        store.PoolStatistics.Returns(new StorePoolStatistics(5, 15, 20));
        var app = await TestApp.StartAsync(b => b.Services.AddSingleton(store));
        await app.StartConnectedAsync("tenant1");
        await app.StartConnectedAsync("tenant2");

        using var sent = await app.PostJsonAsync("/api/tenants/tenant1/messages", """{"to":"15551234567","text":"hi"}""");
        Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
        app.Clients.For("tenant2").SendFailure = new TenantSendException("Refused.", isTransient: false);
        using var refused = await app.PostJsonAsync("/api/tenants/tenant2/messages", """{"to":"15551234567","text":"hi"}""");
        Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);

        app.Clients.Client("tenant1").Context.ReportDisconnected("test drop");
        await app.Events.WaitForConnectedAsync("tenant1", times: 2);
        return app;
    }

    private static void AssertSample(string scrape, string name, string labels, string value)
    {
        // A sample line: the name, its labels in any order (the exporter adds otel_scope_name), the value.
        string labelPattern = labels.Length == 0
            ? @"(\{[^}]*\})?"
            : @"\{" + string.Concat(labels.Split(',').Select(l => "(?=[^}]*" + Regex.Escape(l) + ")")) + @"[^}]*\}";
        var pattern = new Regex("^" + Regex.Escape(name) + labelPattern + " " + Regex.Escape(value) + "$", RegexOptions.Multiline);
        Assert.True(pattern.IsMatch(scrape), $"No sample {name}{{{labels}}} {value} in:\n{scrape}");
    }

    [Fact]
    public async Task A_started_tenant_has_its_message_and_error_series_at_zero_before_any_traffic_within_the_label_cap()
    {
        await using var app = await TestApp.StartAsync(b => b.Services.Configure<Hosting.TenantCoordinatorOptions>(o => o.MaxTenantMetricLabels = 1));
        await app.StartConnectedAsync("quiet1");
        await app.StartConnectedAsync("quiet2"); // beyond the cap of 1: no labelled series of its own

        using var response = await app.Http.GetAsync("/metrics");
        string scrape = await response.Content.ReadAsStringAsync();

        AssertSample(scrape, "whatsmeow_tenant_messages_total", "business_id=\"quiet1\",direction=\"in\"", "0");
        AssertSample(scrape, "whatsmeow_tenant_messages_total", "business_id=\"quiet1\",direction=\"out\"", "0");
        foreach (var kind in new[] { "connect", "fatal", "handler", "send" })
        {
            AssertSample(scrape, "whatsmeow_tenant_errors_total", $"business_id=\"quiet1\",kind=\"{kind}\"", "0");
        }

        Assert.DoesNotContain("business_id=\"quiet2\"", scrape, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_scrape_shows_the_spec_names_with_their_values()
    {
        await using var app = await StartBusyAppAsync();

        using var response = await app.Http.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        string scrape = await response.Content.ReadAsStringAsync();
        AssertSample(scrape, "whatsmeow_tenants_total", "", "2");
        AssertSample(scrape, "whatsmeow_tenants_connected", "", "2");
        AssertSample(scrape, "whatsmeow_tenants_disconnected", "", "0");
        AssertSample(scrape, "whatsmeow_tenant_messages_total", "business_id=\"tenant1\",direction=\"out\"", "1");
        AssertSample(scrape, "whatsmeow_tenant_errors_total", "business_id=\"tenant2\",kind=\"send\"", "1");
        AssertSample(scrape, "whatsmeow_tenant_reconnects_total", "business_id=\"tenant1\"", "1");
        // Three events (connected, disconnected, connected again), one value per run of events handled back to back: three, or two
        // when the reconnect's event queued behind the disconnect's (or one less while the last run's value is being recorded).
        Assert.Matches(new Regex("^whatsmeow_handler_duration_seconds_count\\{[^}]*business_id=\"tenant1\"[^}]*\\} [1-3]$", RegexOptions.Multiline), scrape);
        Assert.Matches(new Regex("^whatsmeow_handler_duration_seconds_bucket\\{[^}]*le=\"\\+Inf\"[^}]*\\} ", RegexOptions.Multiline), scrape);
        AssertSample(scrape, "whatsmeow_queue_depth", "", "0");
        AssertSample(scrape, "whatsmeow_db_pool_connections", "state=\"acquired\"", "5");
        AssertSample(scrape, "whatsmeow_db_pool_connections", "state=\"idle\"", "15");
        AssertSample(scrape, "whatsmeow_db_pool_connections", "state=\"max\"", "20");
        Assert.Contains("# TYPE whatsmeow_tenants_total gauge", scrape, StringComparison.Ordinal);
        Assert.Contains("# TYPE whatsmeow_tenant_messages_total counter", scrape, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_openmetrics_scrape_keeps_the_spec_names()
    {
        await using var app = await StartBusyAppAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        // What a Prometheus server sends.
        request.Headers.Accept.ParseAdd("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");

        using var response = await app.Http.SendAsync(request);

        Assert.Equal("application/openmetrics-text", response.Content.Headers.ContentType?.MediaType);
        string scrape = await response.Content.ReadAsStringAsync();
        AssertSample(scrape, "whatsmeow_tenants_total", "", "2");
        AssertSample(scrape, "whatsmeow_tenants_connected", "", "2");
        AssertSample(scrape, "whatsmeow_tenants_disconnected", "", "0");
        AssertSample(scrape, "whatsmeow_tenant_messages_total", "business_id=\"tenant1\"", "1");
        AssertSample(scrape, "whatsmeow_tenant_errors_total", "business_id=\"tenant2\"", "1");
        AssertSample(scrape, "whatsmeow_tenant_reconnects_total", "business_id=\"tenant1\"", "1");
        Assert.EndsWith("# EOF\n", scrape, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_path_is_configurable()
    {
        await using var app = await TestApp.StartAsync(map: a => a.MapTenantMetrics("/internal/prometheus"));

        using var response = await app.Http.GetAsync("/internal/prometheus");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertSample(await response.Content.ReadAsStringAsync(), "whatsmeow_tenants_total", "", "0");
    }

    [Fact]
    public async Task Metrics_are_anonymous_by_default_and_require_the_admin_key_when_the_host_adds_the_admin_policy()
    {
        await using (var open = await TestApp.StartAsync())
        {
            using var anonymous = await open.Anonymous.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, anonymous.StatusCode);
        }

        await using var keyed = await TestApp.StartAsync(map: a =>
        {
            a.MapTenantApi();
            a.MapTenantMetrics().RequireAuthorization(MultiTenant.AspNetCore.Security.TenantApiAuthentication.AdminPolicy);
        });

        using (var anonymous = await keyed.Anonymous.GetAsync("/metrics"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.Single().Scheme);
        }

        using var admin = await keyed.Http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        AssertSample(await admin.Content.ReadAsStringAsync(), "whatsmeow_tenants_total", "", "0");
    }

    [Fact]
    public async Task Adding_prometheus_metrics_twice_exports_each_series_once()
    {
        await using var app = await TestApp.StartAsync(b => b.Services.AddWhatsAppTenants().AddPrometheusMetrics());

        string scrape = await app.Http.GetStringAsync("/metrics");

        Assert.Single(Regex.Matches(scrape, "^whatsmeow_tenants_total", RegexOptions.Multiline));
    }
}
