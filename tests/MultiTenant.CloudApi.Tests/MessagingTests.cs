using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Tests.Infrastructure;

namespace MultiTenant.CloudApi.Tests;

/// <summary>Read receipts with the typing indicator, the template list and its cache, and per-tenant throughput tiers.</summary>
public sealed class MessagingTests : IAsyncLifetime
{
    private const string Phone = "106540352242922";
    private const string Token = "EAAGtoken-tenant-a-0001";
    private const string Waba = "102290129340398";

    private FakeGraphApi _graph = null!;

    public async Task InitializeAsync() => _graph = await FakeGraphApi.StartAsync();

    public async Task DisposeAsync() => await _graph.DisposeAsync();

    [Theory]
    [InlineData(false, """{"messaging_product":"whatsapp","status":"read","message_id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="}""")]
    [InlineData(true, """{"messaging_product":"whatsapp","status":"read","message_id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=","typing_indicator":{"type":"text"}}""")]
    public async Task Mark_read_posts_the_documented_status_with_an_optional_typing_indicator(bool typing, string json)
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        var messaging = host.Services.GetRequiredService<ICloudApiMessaging>();

        await messaging.MarkReadAsync(tenant, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=", typing);

        var request = Assert.Single(_graph.Sends);
        Assert.Equal("/v21.0/" + Phone + "/messages", request.Path);
        Assert.Equal("Bearer " + Token, request.Authorization);
        Assert.Equal(json, request.Body);
    }

    [Fact]
    public async Task Mark_read_with_a_revoked_token_is_a_cloud_api_exception_without_the_token()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        _graph.Revoke(Token);

        var error = await Assert.ThrowsAsync<CloudApiException>(() => host.Services.GetRequiredService<ICloudApiMessaging>().MarkReadAsync(tenant, "wamid.X"));

        Assert.Equal(190, error.GraphErrorCode);
        Assert.False(error.IsTransient);
        Assert.DoesNotContain(Token, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Templates_are_listed_across_pages_and_cached_until_the_duration_passes()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 10, 0, 0, TimeSpan.Zero));
        await using var host = await CloudApiTestHost.StartAsync(_graph, o => o.TemplateCacheDuration = TimeSpan.FromMinutes(5), time);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        _graph.AddBusinessAccount(Waba, Token);
        for (int i = 0; i < 150; i++)
        {
            _graph.Templates.Add(("5942" + i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture), "template_" + i, "en_US", i % 10 == 0 ? "PENDING" : "APPROVED", "UTILITY"));
        }

        var messaging = host.Services.GetRequiredService<ICloudApiMessaging>();
        var first = await messaging.GetTemplatesAsync(tenant);
        var pages = _graph.Requests.Where(static r => r.Path.EndsWith("/message_templates", StringComparison.Ordinal)).ToList();

        Assert.Equal(150, first.Count);
        Assert.Equal(new CloudApiTemplate("5942000000", "template_0", "en_US", "PENDING", "UTILITY"), first[0]);
        Assert.Equal("APPROVED", first[149].Status);
        Assert.Equal(2, pages.Count);
        Assert.All(pages, p => Assert.Equal("/v21.0/" + Waba + "/message_templates", p.Path));
        Assert.Equal("?fields=id,name,language,status,category&limit=100", pages[0].Query);
        Assert.Equal("?fields=id,name,language,status,category&limit=100&after=c100", pages[1].Query);

        _graph.Templates.Add(("5943000000", "template_new", "pt_BR", "APPROVED", "MARKETING"));
        time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(150, (await messaging.GetTemplatesAsync(tenant)).Count);
        Assert.Equal(151, (await messaging.GetTemplatesAsync(tenant, refresh: true)).Count);
        time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        _graph.Templates.Add(("5943000001", "template_newer", "pt_BR", "APPROVED", "MARKETING"));
        Assert.Equal(152, (await messaging.GetTemplatesAsync(tenant)).Count);
        Assert.Equal(6, _graph.Requests.Count(static r => r.Path.EndsWith("/message_templates", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Templates_need_a_business_account_id()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = TenantId.Parse("tenant-b");
        _graph.AddNumber("106540352242923", Token);
        await host.Credentials.SetAsync(tenant, new CloudApiCredentials("106540352242923", Token));

        var error = await Assert.ThrowsAsync<CloudApiException>(() => host.Services.GetRequiredService<ICloudApiMessaging>().GetTemplatesAsync(tenant));

        Assert.Contains("business_account_id", error.Message, StringComparison.Ordinal);
        Assert.Empty(_graph.Requests);
    }

    [Fact]
    public async Task A_tenant_throughput_tier_overrides_the_default_rate()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph, o =>
        {
            o.MessagesPerSecond = 1000;
            o.TenantMessagesPerSecond["tenant-slow"] = 1;
            o.MaxSendWait = TimeSpan.FromMilliseconds(200);
        });
        var slow = await host.AddTenantAsync(_graph, "tenant-slow", Phone, Token);
        var fast = await host.AddTenantAsync(_graph, "tenant-fast", "106540352242923", "EAAGtoken-tenant-b-0002");
        await host.StartConnectedAsync(slow);
        await host.StartConnectedAsync(fast);

        await host.Coordinator.SendMessageAsync(fast, new OutboundMessage("15551000001", "one"));
        await host.Coordinator.SendMessageAsync(fast, new OutboundMessage("15551000002", "two"));
        await host.Coordinator.SendMessageAsync(slow, new OutboundMessage("15551000003", "one"));
        var held = await Assert.ThrowsAsync<TenantSendException>(() => host.Coordinator.SendMessageAsync(slow, new OutboundMessage("15551000004", "two")));

        Assert.Equal("rate_limited", held.ErrorCode);
        Assert.InRange(held.RetryAfter!.Value, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1));
        Assert.Equal(3, _graph.Sends.Count);
    }
}
