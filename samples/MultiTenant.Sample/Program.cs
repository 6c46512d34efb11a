// The MultiTenant sample server: the tenant REST API (described at /openapi/v1.json and /scalar), /health, /ready, /livez and
// /metrics over a simulated WhatsApp client.
//
//   dotnet run --project samples/MultiTenant.Sample
//
// Environment: HTTP_PORT (default 8080), DATABASE_URL (unset: the embedded in-process store; set: PostgreSQL, always in fleet mode,
// one process being a fleet of one; WhatsAppTenants__Fleet__Engine=Orleans places the tenants with Orleans), HOST_ID (default: machine
// name; must differ between the processes of a fleet), Simulator__MessagesPerSecond and the other Simulator__* settings (see
// Simulation/SimulatorOptions.cs), Handling__AuditFile and Handling__Delay (see Handling/HandlingOptions.cs).
// Secrets at rest (README, "Secrets at rest"): with DATABASE_URL set, WhatsAppTenants__Secrets__KeyEncryptionKey is required (base64 of
// 32 random bytes, `openssl rand -base64 32`, the same on every host, never in the database; start-up fails saying so without it);
// WhatsAppTenants__Secrets__PreviousKeyEncryptionKeys__0 keeps an old one readable after a rotation. Without a database nothing is
// needed: the key ring lives in memory with the embedded store.
using System.Globalization;
using MultiTenant.AspNetCore;
using MultiTenant.Diagnostics;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using MultiTenant.Sample;
using MultiTenant.Sample.Handling;
using MultiTenant.Sample.Simulation;
using Scalar.AspNetCore;

var builder = WebApplication.CreateBuilder(args);

int port = ReadPort(builder.Configuration["HTTP_PORT"]);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.ListenAnyIP(port);
    // Long enough for a 10,000-character id to reach the API and get a 400 problem, instead of Kestrel's bare 414.
    kestrel.Limits.MaxRequestLineSize = 32 * 1024;
});
// 30 s unless the standard host setting shutdownTimeoutSeconds says otherwise (environment DOTNET_SHUTDOWNTIMEOUTSECONDS); the
// deployment files set it, and keep their grace periods longer (README, "Deploy").
builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(builder.Configuration.GetValue("shutdownTimeoutSeconds", 30)));

builder.Services.AddOptions<SimulatorOptions>()
    .BindConfiguration(SimulatorOptions.SectionName)
    .ValidateDataAnnotations()
    .ValidateOnStart();

var tenants = builder.Services.AddWhatsAppTenants(options =>
    {
        string? hostId = builder.Configuration["HOST_ID"];
        if (!string.IsNullOrWhiteSpace(hostId))
        {
            options.HostId = hostId;
        }
    })
    .AddEventHandler<LoggingEventHandler>()
    .AddPrometheusMetrics();

// Handling__AuditFile: a record of every handling of every message and receipt (start and done, with the event id and this host), and
// Handling__Delay: simulated handler work; see Handling/HandlingOptions.cs. Off by default.
builder.Services.AddOptions<HandlingOptions>()
    .BindConfiguration(HandlingOptions.SectionName)
    .ValidateDataAnnotations()
    .ValidateOnStart();
if (!string.IsNullOrWhiteSpace(builder.Configuration[HandlingOptions.SectionName + ":AuditFile"]))
{
    tenants.AddEventHandler<AuditingEventHandler>();
}

// Observability (README, "Tracing and logs"): .NET runtime metrics join ours on /metrics. With OTEL_EXPORTER_OTLP_ENDPOINT set (the
// standard OpenTelemetry variables: OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME, ...), the spans of MultiTenant, ASP.NET Core
// and Npgsql go to that collector over OTLP; without it no tracer is registered, so nothing is sampled. JSON logs:
// Logging__Console__FormatterName=json.
var openTelemetry = builder.Services.AddOpenTelemetry().WithMetrics(static metrics => metrics.AddRuntimeInstrumentation());
if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
{
    openTelemetry
        .WithTracing(static tracing => tracing
            .AddSource(TenantTracing.ActivitySourceName)
            .AddAspNetCoreInstrumentation()
            .AddNpgsql()
            .AddOtlpExporter());
}

// The API is never open: the admin key comes from WhatsAppTenants:Api:AdminKey (WhatsAppTenants__Api__AdminKey) or API_KEY; with
// neither, one is generated at start and logged once (like Jupyter's token).
string? adminKey = builder.Configuration["WhatsAppTenants:Api:AdminKey"];
if (string.IsNullOrWhiteSpace(adminKey))
{
    adminKey = builder.Configuration["API_KEY"];
}

bool generatedAdminKey = string.IsNullOrWhiteSpace(adminKey);
if (generatedAdminKey)
{
    adminKey = MultiTenant.Security.TenantApiKeys.Generate();
}

tenants.AddTenantApi(api => api.AdminKey = adminKey);
tenants.AddTenantApiOpenApi();   // the OpenAPI document of every endpoint (mapped below at /openapi/v1.json)

// WhatsAppTenants__Client=CloudApi selects Meta's WhatsApp Business Cloud API, WhatsAppTenants__Client=Wuzapi WhatsApp Web numbers
// through wuzapi engines (WhatsAppTenants__Wuzapi__Engines__main__BaseUrl, ...__AdminToken, WhatsAppTenants__Wuzapi__WebhookBaseUrl;
// README, "Run the engine next to the sample and pair a number"); anything else (the default) the simulator.
string? client = builder.Configuration["WhatsAppTenants:Client"];
bool cloudApi = string.Equals(client, "CloudApi", StringComparison.OrdinalIgnoreCase);
bool wuzapi = string.Equals(client, "Wuzapi", StringComparison.OrdinalIgnoreCase);
if (cloudApi)
{
    tenants.UseCloudApi();
}
else if (wuzapi)
{
    tenants.UseWuzapi();
}
else
{
    tenants.UseClientFactory<SimulatedClientFactory>();
}

string? databaseUrl = builder.Configuration["DATABASE_URL"];
if (!string.IsNullOrWhiteSpace(databaseUrl))
{
    // PostgreSQL is always fleet mode (SPEC §8; one process is a fleet of one): processes with their own HOST_ID share the tenants and
    // never run one twice; statuses show the owner host.
    tenants.UsePostgreSql(databaseUrl);
    builder.Services.Configure<TenantApiOptions>(api => api.IncludeHost = true);

    // WhatsAppTenants__Fleet__Engine=Orleans: the tenants are placed by an Orleans silo in this process (MultiTenant.Orleans; its ports
    // from WhatsAppTenants__Fleet__Orleans__SiloPort and __GatewayPort), under the same leases. Unset or PostgreSql: the fleet's own.
    string engine = builder.Configuration["WhatsAppTenants:Fleet:Engine"] ?? "PostgreSql";
    if (string.Equals(engine, "Orleans", StringComparison.OrdinalIgnoreCase))
    {
        tenants.UseOrleansFleet();
    }
    else if (!string.Equals(engine, "PostgreSql", StringComparison.OrdinalIgnoreCase))
    {
        throw new InvalidOperationException($"WhatsAppTenants:Fleet:Engine is '{engine}'; use PostgreSql (the default) or Orleans.");
    }
}

// The API key scheme as the default one, so that UseAuthentication() below reads the key before the rate limiter runs.
builder.Services.AddAuthentication(MultiTenant.AspNetCore.Security.TenantApiAuthentication.Scheme);

var app = builder.Build();

// Authentication, then the rate limiter, then authorization: the limiter partitions by API key (AddTenantApi's policy,
// WhatsAppTenants:Api:RateLimits) and by client address for calls without a valid key, before they are answered 401.
app.UseAuthentication();
app.UseRateLimiter();
app.UseAuthorization();

app.MapTenantApi();   // /api/tenants... and every contributed endpoint, behind the API key
if (generatedAdminKey)
{
    app.Logger.LogWarning(
        "No admin API key configured: generated one for this run: {AdminKey} . Send it as 'Authorization: Bearer <key>'. Set your own with the environment variable API_KEY or WhatsAppTenants__Api__AdminKey.",
        adminKey);
}
if (cloudApi)
{
    // PUT/GET/DELETE /api/tenants/{business_id}/cloud-api/credentials come with MapTenantApi() (UseCloudApi contributes them).
    app.MapCloudApiWebhook();     // /webhooks/whatsapp (verified by Meta's signature, so no authorization here)
}
if (wuzapi)
{
    // PUT/DELETE /api/tenants/{business_id}/wuzapi/pair-phone come with MapTenantApi() (UseWuzapi contributes them).
    app.MapWuzapiWebhook();       // /webhooks/wuzapi/{business_id} (verified by the engine's x-hmac-signature, so no authorization here)
}

// The API's description without a key: /openapi/v1.json (no secrets in it) and the interactive reference at /scalar, where the key
// goes into the page's Authentication box (Bearer) before "Send". Behind the admin key instead:
// app.MapOpenApi().RequireAuthorization(TenantApiAuthentication.AdminPolicy), and the same for MapScalarApiReference().
app.MapOpenApi();
app.MapScalarApiReference(scalar => scalar
    .WithTitle("MultiTenant API")
    .AddPreferredSecuritySchemes("Bearer"));

app.MapTenantHealthChecks();
app.MapTenantMetrics();
app.MapTenantDashboard();      // GET / (live dashboard, server-sent events at /events); a browser signs in at /signin with an API key

app.Run();

static int ReadPort(string? value)
{
    if (string.IsNullOrWhiteSpace(value))
    {
        return 8080;
    }

    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
    {
        throw new InvalidOperationException($"HTTP_PORT must be a port number between 1 and 65535; it is '{value}'.");
    }

    return port;
}
