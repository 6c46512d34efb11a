using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Events;
using MultiTenant.Hosting;

namespace MultiTenant.Wuzapi.Tests.Infrastructure;

/// <summary>
/// The app under test: the coordinator with <c>UseWuzapi()</c> pointed at a <see cref="FakeWuzapiEngine"/>, a recording handler and
/// fake logging. With the real clock it is a real ASP.NET Core app on Kestrel (127.0.0.1, a port chosen before it starts, so the engine
/// users' webhook URL points at it) with the tenant API and the webhook mapped; with a fake clock it is a plain host (no web server).
/// </summary>
public sealed class WuzapiTestHost : IAsyncDisposable
{
    public const string AdminKey = "test-admin-key";

    /// <summary>The coordinator options of most tests: quick health checks and reconnects on the real clock.</summary>
    public static readonly Action<TenantCoordinatorOptions> Quick = o =>
    {
        o.HealthCheckInterval = TimeSpan.FromMilliseconds(100);
        o.ReconnectBaseDelay = TimeSpan.FromMilliseconds(50);
        o.ReconnectMaxDelay = TimeSpan.FromMilliseconds(200);
    };

    private readonly HttpClient? _http;
    private int _disposed;

    private WuzapiTestHost(IHost host, RecordingHandler events, HttpClient? http)
    {
        Host = host;
        Events = events;
        _http = http;
    }

    public IHost Host { get; }

    public IServiceProvider Services => Host.Services;

    public RecordingHandler Events { get; }

    public HttpClient Http => _http ?? throw new InvalidOperationException("This host has no web server (it runs on a fake clock).");

    public ITenantCoordinator Coordinator => Services.GetRequiredService<ITenantCoordinator>();

    public TenantPairingBoard Pairing => Services.GetRequiredService<TenantPairingBoard>();

    public FakeLogCollector Logs => Services.GetFakeLogCollector();

    public static async Task<WuzapiTestHost> StartAsync(
        FakeWuzapiEngine engine,
        TimeProvider? time = null,
        Action<TenantCoordinatorOptions>? coordinator = null,
        Action<WuzapiOptions>? wuzapi = null,
        Action<WhatsAppTenantsBuilder>? tenants = null)
    {
        var events = new RecordingHandler();
        if (time is not null)
        {
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
            builder.Services.AddSingleton(time);
            Configure(builder.Services, builder.Logging, engine, new Uri("http://127.0.0.1:9/webhooks/wuzapi"), events, coordinator, wuzapi, tenants);
            var host = builder.Build();
            await host.StartAsync();
            return new WuzapiTestHost(host, events, null);
        }

        int port = FakeWuzapiEngine.FreePort();
        var address = new Uri("http://127.0.0.1:" + port + "/");
        var web = WebApplication.CreateSlimBuilder();
        web.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        Configure(web.Services, web.Logging, engine, new Uri(address, "webhooks/wuzapi"), events, coordinator ?? Quick, wuzapi, tenants);
        var app = web.Build();
        app.UseRateLimiter();
        app.MapTenantApi();
        app.MapWuzapiWebhook();
        await app.StartAsync();
        return new WuzapiTestHost(app, events, new HttpClient { BaseAddress = address, DefaultRequestHeaders = { { "Authorization", "Bearer " + AdminKey } } });
    }

    /// <summary>Starts the tenant, pairs its phone when the engine shows a QR code, and waits until it is connected.</summary>
    public async Task StartPairedAsync(FakeWuzapiEngine engine, TenantId tenant)
    {
        int before = Events.Of<TenantConnectedEvent>(tenant).Count;
        await Coordinator.StartAsync(tenant);
        var connected = Events.WaitForAsync<TenantConnectedEvent>(tenant, before + 1);
        if (await Task.WhenAny(connected, WaitForChallengeAsync(tenant)) != connected)
        {
            engine.Pair(tenant.Value);
        }

        await connected;
    }

    /// <summary>Waits (bounded) until the pairing board shows a challenge for <paramref name="tenant"/>.</summary>
    public async Task<TenantPairingChallenge> WaitForChallengeAsync(TenantId tenant, Func<TenantPairingChallenge, bool>? match = null)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var changes = Pairing.ReadChangesAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        try
        {
            if (Pairing.Get(tenant) is { } current && (match is null || match(current)))
            {
                return current;
            }

            while (await changes.MoveNextAsync())
            {
                if (changes.Current is { Challenge: { } challenge } update && update.BusinessId == tenant && (match is null || match(challenge)))
                {
                    return challenge;
                }
            }

            throw new TimeoutException("No pairing challenge.");
        }
        finally
        {
            await changes.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return; // a fleet test disposes a host to move its tenants, then again at the end
        }

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
        FakeWuzapiEngine engine,
        Uri webhookBaseUrl,
        RecordingHandler events,
        Action<TenantCoordinatorOptions>? coordinator,
        Action<WuzapiOptions>? wuzapi,
        Action<WhatsAppTenantsBuilder>? configureTenants)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(LogLevel.Trace);
        logging.AddFakeLogging();
        var tenants = services.AddWhatsAppTenants(options => coordinator?.Invoke(options)).AddEventHandler(events)
            .AddTenantApi(static o => o.AdminKey = AdminKey);
        configureTenants?.Invoke(tenants);
        tenants.UseWuzapi(options =>
        {
            options.Engines["main"] = new WuzapiEngineOptions { BaseUrl = engine.BaseUrl, AdminToken = FakeWuzapiEngine.AdminToken };
            options.WebhookBaseUrl = webhookBaseUrl;
            options.PairingPollInterval = TimeSpan.FromMilliseconds(100);
            wuzapi?.Invoke(options);
        });
    }
}
