// The consumer test's web app (tests/consumer/run.sh): the README's "Use it in your host" code, compiled in a fresh project outside
// the solution against the packed MultiTenant.* packages only. When the README's minimal host code changes shape, change this one
// file with it. run.sh starts it with --urls http://127.0.0.1:0, starts one tenant through the API, waits for /ready to answer 200,
// reads /metrics, stops the tenant and sends SIGTERM. It also sets API_KEY and sends it with every API call as
// "Authorization: Bearer <key>", ready for when the host code configures API keys.
using MultiTenant.Clients;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddWhatsAppTenants()               // options bind from the "WhatsAppTenants" section, validated at start
    .UseClientFactory<ConsumerClientFactory>()       // how each tenant's client is created
    .AddPrometheusMetrics()                          // OpenTelemetry metrics with the Prometheus exporter
    .AddTenantApi(o => o.AdminKey ??= builder.Configuration["API_KEY"]); // API keys: admin from WhatsAppTenants:Api:AdminKey or API_KEY

var app = builder.Build();
app.UseRateLimiter();          // the API's rate limits (WhatsAppTenants:Api:RateLimits); MapTenantApi() needs it
app.MapTenantApi();            // /api/tenants...
app.MapTenantHealthChecks();   // /health /ready /livez
app.MapTenantMetrics();        // /metrics
app.Run();

/// <summary>The trivial client factory: every tenant gets a client that connects at once.</summary>
internal sealed class ConsumerClientFactory : ITenantClientFactory
{
    public ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult<ITenantClient>(new ConsumerClient());
}

/// <summary>A client with no protocol: connected from <see cref="ConnectAsync"/> until <see cref="DisconnectAsync"/>.</summary>
internal sealed class ConsumerClient : ITenantClient
{
    private int _sent;

    public bool IsConnected { get; private set; }

    public Task ConnectAsync(CancellationToken cancellationToken)
    {
        IsConnected = true;
        return Task.CompletedTask;
    }

    public Task DisconnectAsync(CancellationToken cancellationToken)
    {
        IsConnected = false;
        return Task.CompletedTask;
    }

    public ValueTask<bool> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(IsConnected);

    public Task<SendMessageResult> SendMessageAsync(OutboundMessage message, CancellationToken cancellationToken) =>
        Task.FromResult(new SendMessageResult("consumer-" + Interlocked.Increment(ref _sent)));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
