using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using MultiTenant.Hosting;

namespace MultiTenant.AspNetCore.Tests.Infrastructure;

/// <summary>
/// A real ASP.NET Core application (WebApplication, routing, health check middleware, OpenTelemetry) on TestServer, with the tenant
/// coordinator, test clients, an event recorder and a fake clock starting at <see cref="Now"/>.
/// </summary>
internal sealed class TestApp : IAsyncDisposable
{
    /// <summary>The fake clock's time: every timestamp the app writes is this one.</summary>
    public static readonly DateTimeOffset Now = new(2025, 1, 7, 10, 0, 5, TimeSpan.Zero);

    public const string NowText = "2025-01-07T10:00:05Z";

    private TestApp(WebApplication app, TestClientFactory clients, EventRecorder events, FakeTimeProvider time)
    {
        App = app;
        Clients = clients;
        Events = events;
        Time = time;
        Http = app.GetTestClient();
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        Anonymous = app.GetTestClient();
    }

    public WebApplication App { get; }

    /// <summary>The admin API key; <see cref="Http"/> sends it with every request.</summary>
    public const string AdminKey = "test-admin-key";

    /// <summary>A client authenticated as admin.</summary>
    public HttpClient Http { get; }

    /// <summary>A client that sends no API key.</summary>
    public HttpClient Anonymous { get; }

    public TestClientFactory Clients { get; }

    public EventRecorder Events { get; }

    public FakeTimeProvider Time { get; }

    public ITenantCoordinator Coordinator => App.Services.GetRequiredService<ITenantCoordinator>();

    public FakeLogCollector Logs => App.Services.GetFakeLogCollector();

    /// <summary>
    /// Builds and starts the app. By default maps the tenant API, the health endpoints and the metrics endpoint, after
    /// <c>UseRateLimiter()</c> unless <paramref name="useRateLimiter"/> is false.
    /// </summary>
    public static async Task<TestApp> StartAsync(Action<WebApplicationBuilder>? configure = null, Action<WebApplication>? map = null, bool useRateLimiter = true)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddFakeLogging();

        var time = new FakeTimeProvider(Now);
        var clients = new TestClientFactory();
        var events = new EventRecorder();
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddWhatsAppTenants(static o => o.HostId = "test-host")
            .UseClientFactory(clients)
            .AddEventHandler(events)
            .AddTenantApi(static o => o.AdminKey = AdminKey)
            .AddPrometheusMetrics(static o => o.ScrapeResponseCacheDurationMilliseconds = 0);
        configure?.Invoke(builder);

        var app = builder.Build();
        if (useRateLimiter)
        {
            app.UseRateLimiter();
        }

        if (map is null)
        {
            app.MapTenantApi();
            app.MapTenantHealthChecks();
            app.MapTenantMetrics();
        }
        else
        {
            map(app);
        }

        await app.StartAsync();
        return new TestApp(app, clients, events, time);
    }

    /// <summary>Starts <paramref name="tenant"/> through the API and waits until it is connected.</summary>
    public async Task StartConnectedAsync(string tenant)
    {
        using var response = await PostJsonAsync("/api/tenants", $$"""{"business_id":"{{tenant}}"}""");
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        await Events.WaitForConnectedAsync(tenant);
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json, string contentType = "application/json") =>
        Http.PostAsync(path, Body(json, contentType));

    public static HttpContent Body(string text, string? contentType = "application/json")
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(text));
        if (contentType is not null)
        {
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        return content;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Anonymous.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>Assertions on responses.</summary>
internal static class Responses
{
    /// <summary>Asserts an RFC 9457 problem with <paramref name="status"/> and returns its <c>detail</c>.</summary>
    public static async Task<string> AssertProblemAsync(HttpResponseMessage response, int status)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        Assert.Equal(status, root.GetProperty("status").GetInt32());
        Assert.StartsWith("https://", root.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("title").GetString()));
        string detail = root.GetProperty("detail").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(detail));
        AssertNoExceptionText(body);
        return detail;
    }

    /// <summary>The <c>error_code</c> member of a problem, or null.</summary>
    public static async Task<string?> ErrorCodeAsync(HttpResponseMessage response)
    {
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.TryGetProperty("error_code", out var code) ? code.GetString() : null;
    }

    public static void AssertNoExceptionText(string body)
    {
        Assert.DoesNotContain("Exception", body, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        Assert.DoesNotContain(".cs:line", body, StringComparison.Ordinal);
    }

    public static async Task<string> AssertJsonAsync(HttpResponseMessage response, int status)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return body;
    }
}
