using System.Net;
using System.Text;
using System.Text.Json;
using MultiTenant.CloudApi.Tests.Infrastructure;

namespace MultiTenant.CloudApi.Tests;

/// <summary>Sends through the tenant API (<c>POST /api/tenants/{business_id}/messages</c> of MultiTenant.AspNetCore) over the Cloud API client.</summary>
public sealed class TenantApiTests : IAsyncLifetime
{
    private const string Phone = "106540352242922";

    private FakeGraphApi _graph = null!;
    private CloudApiTestHost _host = null!;

    public async Task InitializeAsync()
    {
        _graph = await FakeGraphApi.StartAsync();
        _host = await CloudApiTestHost.StartAsync(_graph, o => o.ThrottlePause = TimeSpan.FromSeconds(60));
        var tenant = await _host.AddTenantAsync(_graph, "A", Phone, "EAAGtoken-a");
        await _host.StartConnectedAsync(tenant);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _graph.DisposeAsync();
    }

    [Fact]
    public async Task Post_message_sends_the_exact_documented_body_to_graph_and_returns_the_id()
    {
        using var response = await PostMessageAsync("""{"to":"15551234567","text":"hi"}""");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("wamid.FAKE1", json.RootElement.GetProperty("message_id").GetString());
        var send = Assert.Single(_graph.Sends);
        Assert.Equal("/v21.0/" + Phone + "/messages", send.Path);
        Assert.Equal(
            """{"messaging_product":"whatsapp","recipient_type":"individual","to":"15551234567","type":"text","text":{"preview_url":false,"body":"hi"}}""",
            send.Body);
    }

    [Fact]
    public async Task Throttled_send_is_a_429_with_retry_after()
    {
        _graph.FailNextSend(80007);

        using var response = await PostMessageAsync("""{"to":"15551234567","text":"hi"}""");

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(60), response.Headers.RetryAfter!.Delta);
        Assert.Contains("80007", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Policy_refusal_is_a_502_problem_with_a_clear_detail()
    {
        _graph.FailNextSend(131048);

        using var response = await PostMessageAsync("""{"to":"15551234567","text":"hi"}""");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("policy reason", json.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("Spam rate limit hit", json.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    private Task<HttpResponseMessage> PostMessageAsync(string json) =>
        _host.Http.PostAsync("/api/tenants/A/messages", new StringContent(json, Encoding.UTF8, "application/json"));
}
