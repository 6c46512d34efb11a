using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MultiTenant.Deployment.Tests.Infrastructure;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MultiTenant.Deployment.Tests;

/// <summary>
/// The published sample exporting its traces the way an operator wires it (only the standard OpenTelemetry environment variables) to
/// a collector: here a real Kestrel server on loopback that takes OTLP/HTTP exports at <c>/v1/traces</c>, as a collector does. OTLP is
/// protobuf, whose strings are plain UTF-8 on the wire, so the test looks for span names and attribute values in the request bodies.
/// </summary>
[Collection(PublishedSampleCollection.Name)]
public sealed class TracingAndLogsTests(PublishedSample sample, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private readonly ConcurrentQueue<byte[]> _exports = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly string _apiKey = Convert.ToHexString(Guid.NewGuid().ToByteArray()).ToLowerInvariant();
    private WebApplication? _collector;
    private SampleProcess? _host;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _collector = builder.Build();
        _collector.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            _exports.Enqueue(body.ToArray());
            return Results.Ok();
        });
        await _collector.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
            output.WriteLine($"host output, last lines:{Environment.NewLine}{_host.OutputTail()}");
        }

        if (_collector is not null)
        {
            await _collector.DisposeAsync();
        }

        _http.Dispose();
    }

    [Fact]
    public async Task With_the_standard_OTLP_variables_the_spans_of_connect_send_and_handling_reach_the_collector_and_logs_are_JSON()
    {
        string collector = _collector!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var environment = Container.Environment(
            new Dictionary<string, string> { ["DATABASE_URL"] = "", ["API_KEY"] = _apiKey, ["KEY_ENCRYPTION_KEY"] = "" },
            new Dictionary<string, string>
            {
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector,
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
                ["OTEL_SERVICE_NAME"] = "multitenant-trace-test",
                ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
                ["Logging__Console__FormatterName"] = "json",
                ["Simulator__MessagesPerSecond"] = "5",
            });
        environment.Remove("WhatsAppTenants__Secrets__KeyEncryptionKey");
        _host = Container.Start(sample, environment);
        using (await Container.UntilStatusAsync(_http, _host, "/livez", HttpStatusCode.OK, Limit))
        {
        }

        await SendAsync(HttpMethod.Post, "/api/tenants", new { business_id = "traced1" }, HttpStatusCode.Created);
        await Eventually.UntilAsync(
            async () =>
            {
                using var request = Request(HttpMethod.Get, "/api/tenants/traced1", body: null);
                using var response = await _http.SendAsync(request);
                using var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                return status.RootElement.GetProperty("status").GetString() == "connected";
            },
            "traced1 is connected",
            Limit);
        await SendAsync(HttpMethod.Post, "/api/tenants/traced1/messages", new { to = "15550001", text = "traced" }, HttpStatusCode.Accepted);

        // Every span name of TenantTracing's remarks that this flow makes, the tenant's id as an attribute value, the service name from
        // OTEL_SERVICE_NAME, and ASP.NET Core's own server span for the API call.
        string[] expected = ["tenant connect", "tenant send", "tenant client send", "tenant handle", "business_id", "traced1", "multitenant-trace-test", "POST /api/tenants"];
        await Eventually.UntilAsync(
            () =>
            {
                string all = string.Join('\n', _exports.Select(static b => Encoding.UTF8.GetString(b)));
                return Task.FromResult(string.Join(", ", expected.Where(e => !all.Contains(e, StringComparison.Ordinal))));
            },
            static missing => missing.Length == 0,
            "every expected span name and attribute was exported (last value: what is missing)",
            Limit);
        output.WriteLine($"{_exports.Count} OTLP exports, {_exports.Sum(static b => b.Length)} bytes");

        // Logging__Console__FormatterName=json: each log line is one JSON object with the category and the message.
        string[] lines = _host.OutputTail().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        var logs = lines.Where(static l => l.StartsWith('{')).Select(static l => JsonDocument.Parse(l)).ToArray();
        Assert.NotEmpty(logs);
        Assert.All(logs, static l => Assert.True(l.RootElement.TryGetProperty("Category", out _) && l.RootElement.TryGetProperty("Message", out _)));
        Assert.DoesNotContain(lines, static l => l.StartsWith("info:", StringComparison.Ordinal) || l.StartsWith("warn:", StringComparison.Ordinal));
    }

    private async Task SendAsync(HttpMethod method, string path, object body, HttpStatusCode expected)
    {
        using var request = Request(method, path, body);
        using var response = await _http.SendAsync(request);
        Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private HttpRequestMessage Request(HttpMethod method, string path, object? body)
    {
        var request = new HttpRequestMessage(method, _host!.Url(path)) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _apiKey);
        return request;
    }
}
