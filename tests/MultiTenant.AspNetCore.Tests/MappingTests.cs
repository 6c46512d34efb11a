using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.AspNetCore.Tests.Infrastructure;

namespace MultiTenant.AspNetCore.Tests;

/// <summary>The mapping methods: the builders they return carry conventions to every endpoint; missing services fail helpfully.</summary>
public sealed class MappingTests
{
    private const string Scheme = "Test";

    private static Action<WebApplicationBuilder> AddAuthentication => static b =>
    {
        b.Services.AddAuthentication(Scheme).AddScheme<AuthenticationSchemeOptions, HeaderAuthenticationHandler>(Scheme, null);
        b.Services.AddAuthorization();
    };

    [Theory]
    [InlineData("GET", "/api/tenants")]
    [InlineData("POST", "/api/tenants")]
    [InlineData("GET", "/api/tenants/tenant1")]
    [InlineData("DELETE", "/api/tenants/tenant1")]
    [InlineData("POST", "/api/tenants/tenant1/messages")]
    [InlineData("GET", "/health")]
    [InlineData("GET", "/ready")]
    [InlineData("GET", "/livez")]
    [InlineData("GET", "/metrics")]
    public async Task Authorization_added_to_the_returned_builders_covers_every_endpoint(string method, string path)
    {
        await using var app = await TestApp.StartAsync(AddAuthentication, static a =>
        {
            a.MapTenantApi().RequireAuthorization();
            a.MapTenantHealthChecks().RequireAuthorization();
            a.MapTenantMetrics().RequireAuthorization();
        });

        using var anonymous = await app.Anonymous.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = TestApp.Body("""{"business_id":"tenant1"}""") });
        using var authenticated = new HttpRequestMessage(new HttpMethod(method), path) { Content = TestApp.Body("""{"business_id":"tenant1"}""") };
        authenticated.Headers.Add("X-Test-User", "alice");

        // app.Http also sends the admin API key that the tenant API's own group requires (ApiSecurityTests).
        using var allowed = await app.Http.SendAsync(authenticated);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.NotEqual(HttpStatusCode.Unauthorized, allowed.StatusCode);
    }

    [Fact]
    public async Task Require_host_on_the_health_builder_applies_to_all_three_endpoints()
    {
        await using var app = await TestApp.StartAsync(map: static a => a.MapTenantHealthChecks().RequireHost("health.internal"));

        foreach (string path in new[] { "/health", "/ready", "/livez" })
        {
            using var wrongHost = await app.Http.GetAsync(path);
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = "health.internal";
            using var rightHost = await app.Http.SendAsync(request);

            Assert.Equal(HttpStatusCode.NotFound, wrongHost.StatusCode);
            Assert.NotEqual(HttpStatusCode.NotFound, rightHost.StatusCode);
        }
    }

    [Fact]
    public async Task The_api_group_accepts_more_endpoints_from_the_host()
    {
        await using var app = await TestApp.StartAsync(map: static a =>
            a.MapTenantApi().MapGet("/version", () => "1"));

        Assert.Equal("1", await app.Http.GetStringAsync("/api/tenants/version"));
    }

    public static TheoryData<string, Action<WebApplication>> Mappings => new()
    {
        { "MapTenantApi", static a => a.MapTenantApi() },
        { "MapTenantHealthChecks", static a => a.MapTenantHealthChecks() },
        { "MapTenantMetrics", static a => a.MapTenantMetrics() },
    };

    [Theory]
    [MemberData(nameof(Mappings))]
    public async Task Mapping_without_AddWhatsAppTenants_fails_with_a_helpful_message(string method, Action<WebApplication> map)
    {
        await using var app = BareApp(static _ => { });

        var error = Assert.Throws<InvalidOperationException>(() => map(app));

        Assert.Contains(method + "()", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddWhatsAppTenants()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mapping_metrics_without_AddPrometheusMetrics_fails_with_a_helpful_message()
    {
        await using var app = BareApp(static s => s.AddWhatsAppTenants().UseClientFactory(new TestClientFactory()));

        var error = Assert.Throws<InvalidOperationException>(() => app.MapTenantMetrics());

        Assert.Contains("AddPrometheusMetrics()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mapping_metrics_with_a_meter_provider_but_no_prometheus_exporter_fails_with_a_helpful_message()
    {
        await using var app = BareApp(static s =>
        {
            s.AddWhatsAppTenants().UseClientFactory(new TestClientFactory());
            s.AddOpenTelemetry().WithMetrics(static m => m.AddMeter(MultiTenant.Diagnostics.TenantMetrics.MeterName));
        });

        var error = Assert.Throws<InvalidOperationException>(() => app.MapTenantMetrics());

        Assert.Contains("Prometheus exporter", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_out_of_range_api_option_fails_the_mapping()
    {
        await using var app = BareApp(static s =>
        {
            s.AddWhatsAppTenants().UseClientFactory(new TestClientFactory());
            s.Configure<TenantApiOptions>(static o => o.MaxRequestBodySize = 0);
        });

        var error = Assert.Throws<InvalidOperationException>(() => app.MapTenantApi());

        Assert.Contains("MaxRequestBodySize", error.Message, StringComparison.Ordinal);
    }

    private static WebApplication BareApp(Action<IServiceCollection> services)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        services(builder.Services);
        return builder.Build();
    }

    /// <summary>Authenticates a request that carries <c>X-Test-User</c>; otherwise no result, so authorization challenges (401).</summary>
    private sealed class HeaderAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (!Request.Headers.TryGetValue("X-Test-User", out var user))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user.ToString())], MappingTests.Scheme);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), MappingTests.Scheme)));
        }
    }
}
