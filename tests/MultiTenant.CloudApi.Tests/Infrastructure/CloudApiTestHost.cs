using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using MultiTenant.Events;
using MultiTenant.Hosting;

namespace MultiTenant.CloudApi.Tests.Infrastructure;

/// <summary>
/// The app under test: the tenant coordinator with <c>UseCloudApi()</c> pointed at a <see cref="FakeGraphApi"/>, a recording event
/// handler and fake logging. With the real clock it is a real ASP.NET Core app on Kestrel (127.0.0.1, a free port) with the webhook
/// and credentials endpoints mapped; with a fake clock it is a plain host (no web server), for tests that drive time.
/// </summary>
public sealed class CloudApiTestHost : IAsyncDisposable
{
    public const string AppSecret = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    public const string VerifyToken = "my-verify-token";

    private readonly HttpClient? _http;

    private CloudApiTestHost(IHost host, RecordingHandler events, HttpClient? http)
    {
        Host = host;
        Events = events;
        _http = http;
    }

    public IHost Host { get; }

    public IServiceProvider Services => Host.Services;

    public RecordingHandler Events { get; }

    /// <summary>A client of the app (web hosts only).</summary>
    /// <summary>The admin API key of the web host; <see cref="Http"/> sends it with every request.</summary>
    public const string AdminKey = "test-admin-key";

    public HttpClient Http => _http ?? throw new InvalidOperationException("This host has no web server (it runs on a fake clock).");

    public ITenantCoordinator Coordinator => Services.GetRequiredService<ITenantCoordinator>();

    public ICloudApiCredentialStore Credentials => Services.GetRequiredService<ICloudApiCredentialStore>();

    public FakeLogCollector Logs => Services.GetFakeLogCollector();

    public static async Task<CloudApiTestHost> StartAsync(
        FakeGraphApi graph,
        Action<CloudApiOptions>? cloudApi = null,
        TimeProvider? time = null,
        Action<TenantCoordinatorOptions>? coordinator = null,
        ITenantEventHandler? extraHandler = null,
        Action<WhatsAppTenantsBuilder>? tenants = null)
    {
        var events = new RecordingHandler();
        if (time is not null)
        {
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
            builder.Services.AddSingleton(time);
            Configure(builder.Services, builder.Logging, graph, events, extraHandler, cloudApi, coordinator, tenants);
            var host = builder.Build();
            await host.StartAsync();
            return new CloudApiTestHost(host, events, null);
        }

        var web = WebApplication.CreateSlimBuilder();
        web.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        Configure(web.Services, web.Logging, graph, events, extraHandler, cloudApi, coordinator, tenants);
        var app = web.Build();
        app.UseRateLimiter();
        app.MapTenantApi();
        app.MapCloudApiWebhook();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new CloudApiTestHost(app, events, new HttpClient { BaseAddress = new Uri(address), DefaultRequestHeaders = { { "Authorization", "Bearer " + AdminKey } } });
    }

    /// <summary>Stores credentials for a new tenant (and lets the fake accept its token).</summary>
    public async Task<TenantId> AddTenantAsync(FakeGraphApi graph, string businessId, string phoneNumberId, string token)
    {
        var tenant = TenantId.Parse(businessId);
        graph.AddNumber(phoneNumberId, token);
        await Credentials.SetAsync(tenant, new CloudApiCredentials(phoneNumberId, token, "102290129340398"));
        return tenant;
    }

    /// <summary>Starts the tenant and waits until it is connected.</summary>
    public async Task StartConnectedAsync(TenantId tenant)
    {
        int before = Events.Of<TenantConnectedEvent>(tenant).Count;
        await Coordinator.StartAsync(tenant);
        await Events.WaitForAsync<TenantConnectedEvent>(tenant, before + 1);
    }

    public async ValueTask DisposeAsync()
    {
        _http?.Dispose();
        await Host.StopAsync();
        if (Host is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
        else
        {
            Host.Dispose();
        }
    }

    private static void Configure(
        IServiceCollection services,
        ILoggingBuilder logging,
        FakeGraphApi graph,
        RecordingHandler events,
        ITenantEventHandler? extraHandler,
        Action<CloudApiOptions>? cloudApi,
        Action<TenantCoordinatorOptions>? coordinator,
        Action<WhatsAppTenantsBuilder>? configureTenants)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(LogLevel.Trace);
        logging.AddFakeLogging();
        var tenants = services.AddWhatsAppTenants(options => coordinator?.Invoke(options)).AddEventHandler(events)
            .AddTenantApi(static o => o.AdminKey = AdminKey);
        if (extraHandler is not null)
        {
            tenants.AddEventHandler(extraHandler);
        }

        configureTenants?.Invoke(tenants);

        tenants
            .UseCloudApi(options =>
            {
                options.GraphBaseUrl = graph.BaseUrl;
                options.GraphApiVersion = "v21.0";
                options.AppSecret = AppSecret;
                options.VerifyToken = VerifyToken;
                cloudApi?.Invoke(options);
            });

        // The factory's request logging back on (it is off by default), at Trace level with headers: proves the token is redacted.
        services.AddHttpClient(CloudApiOptions.HttpClientName).AddDefaultLogger();
    }
}
