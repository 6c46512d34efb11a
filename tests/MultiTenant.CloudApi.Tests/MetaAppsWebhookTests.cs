using System.Net;
using MultiTenant.CloudApi.Tests.Infrastructure;
using static MultiTenant.CloudApi.Tests.Infrastructure.MetaPayloads;

namespace MultiTenant.CloudApi.Tests;

/// <summary>
/// Several Meta apps on one host: each app's deliveries arrive at <c>/webhooks/whatsapp/{app_id}</c> and are checked against that
/// app's secrets only (two during a rotation); the default app keeps <c>/webhooks/whatsapp</c>.
/// </summary>
public sealed class MetaAppsWebhookTests : IAsyncLifetime
{
    private const string Phone = "106540352242922";
    private const string SecretA = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
    private const string PreviousSecretA = "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0";
    private const string SecretB = "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1";

    private FakeGraphApi _graph = null!;
    private CloudApiTestHost _host = null!;
    private TenantId _tenant;

    public async Task InitializeAsync()
    {
        _graph = await FakeGraphApi.StartAsync();
        _host = await CloudApiTestHost.StartAsync(_graph, o =>
        {
            o.Apps.Add(new CloudApiMetaApp { AppId = "1111", AppSecret = SecretA, PreviousAppSecret = PreviousSecretA, VerifyToken = "token-a" });
            o.Apps.Add(new CloudApiMetaApp { AppId = "2222", AppSecret = SecretB, VerifyToken = "token-b" });
        });
        _tenant = await _host.AddTenantAsync(_graph, "tenant-a", Phone, "EAAGtoken-a");
        await _host.StartConnectedAsync(_tenant);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _graph.DisposeAsync();
    }

    [Theory]
    [InlineData("/webhooks/whatsapp/1111", SecretA, HttpStatusCode.OK)]
    [InlineData("/webhooks/whatsapp/1111", PreviousSecretA, HttpStatusCode.OK)]
    [InlineData("/webhooks/whatsapp/1111", SecretB, HttpStatusCode.Unauthorized)]
    [InlineData("/webhooks/whatsapp/1111", CloudApiTestHost.AppSecret, HttpStatusCode.Unauthorized)]
    [InlineData("/webhooks/whatsapp/2222", SecretB, HttpStatusCode.OK)]
    [InlineData("/webhooks/whatsapp/2222", SecretA, HttpStatusCode.Unauthorized)]
    [InlineData("/webhooks/whatsapp", CloudApiTestHost.AppSecret, HttpStatusCode.OK)]
    [InlineData("/webhooks/whatsapp", SecretA, HttpStatusCode.Unauthorized)]
    [InlineData("/webhooks/whatsapp/3333", SecretA, HttpStatusCode.NotFound)]
    public async Task A_delivery_is_checked_against_its_own_apps_secrets_only(string path, string signingSecret, HttpStatusCode expected)
    {
        string payload = Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid.apps" + expected + signingSecret[..2] + path.Length, 1739321024, "hello")]));

        using var response = await SignedWebhook.PostAsync(_host.Http, payload, signingSecret, path);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task A_delivery_through_an_app_reaches_the_tenant()
    {
        string payload = Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid.app-a-1", 1739321024, "via app A")]));

        using var response = await SignedWebhook.PostAsync(_host.Http, payload, PreviousSecretA, "/webhooks/whatsapp/1111");
        await _host.Events.WaitForAsync<CloudApiMessageEvent>(_tenant);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("via app A", Assert.Single(_host.Events.Of<CloudApiMessageEvent>(_tenant)).Text);
    }

    [Theory]
    [InlineData("/webhooks/whatsapp/1111", "token-a", HttpStatusCode.OK)]
    [InlineData("/webhooks/whatsapp/1111", "token-b", HttpStatusCode.Forbidden)]
    [InlineData("/webhooks/whatsapp/2222", "token-b", HttpStatusCode.OK)]
    [InlineData("/webhooks/whatsapp", CloudApiTestHost.VerifyToken, HttpStatusCode.OK)]
    [InlineData("/webhooks/whatsapp", "token-a", HttpStatusCode.Forbidden)]
    public async Task Each_app_has_its_own_verify_token(string path, string token, HttpStatusCode expected)
    {
        using var response = await _host.Http.GetAsync(path + "?hub.mode=subscribe&hub.verify_token=" + token + "&hub.challenge=1158201444");

        Assert.Equal(expected, response.StatusCode);
    }
}
