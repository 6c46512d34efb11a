using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.AspNetCore.Tests.Infrastructure;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Events;
using MultiTenant.Inbox;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Xunit.Abstractions;
using static MultiTenant.CloudApi.Tests.Infrastructure.MetaPayloads;

namespace MultiTenant.CloudApi.Tests.Fleet;

/// <summary>
/// Outbound webhooks on a fleet (issue 10): two Cloud API hosts on one real PostgreSQL database, Meta's deliveries to either host, a
/// receiver on loopback. The subscription is made through the host that does not run the tenant, and the tenant moves to the other
/// host mid-stream (SIGTERM of its owner): the receiver gets every event, in order, each event id exactly once.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class CloudApiFleetWebhookTests(PostgreSqlFixture postgres, ITestOutputHelper output) : IAsyncLifetime
{
    private const string Phone = "106540352242933";
    private const string Token = "EAAGtoken-fleet-hooks";
    private const string Secret = "fleet-webhook-secret-0123456789";
    private static readonly TenantId Tenant = TenantId.Parse("hooked");
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private FakeGraphApi _graph = null!;
    private WebhookReceiver _receiver = null!;
    private CloudApiTestHost _h1 = null!;
    private CloudApiTestHost _h2 = null!;

    public async Task InitializeAsync()
    {
        _graph = await FakeGraphApi.StartAsync();
        _graph.AddNumber(Phone, Token);
        _receiver = await WebhookReceiver.StartAsync();
        string database = await postgres.CreateDatabaseAsync("cloudapifleethooks");
        _h1 = await StartHostAsync("w1", database);
        _h2 = await StartHostAsync("w2", database);
    }

    public async Task DisposeAsync()
    {
        await _h1.DisposeAsync();
        await _h2.DisposeAsync();
        await _receiver.DisposeAsync();
        await _graph.DisposeAsync();
    }

    [Fact]
    public async Task A_subscription_made_on_the_other_host_is_seen_and_every_event_arrives_in_order_once_while_the_tenant_moves()
    {
        await _h1.Credentials.SetAsync(Tenant, new CloudApiCredentials(Phone, Token));
        var (owner, other) = await StartOnOneHostAsync();

        // Before any subscription: handled, not queued; the owner now remembers that the tenant has none.
        await DeliverAndWaitHandledAsync(owner, owner, "wamid.BEFORE", "before");
        Assert.Equal(default, await Outbox(owner).CountAsync(Tenant));

        // The subscription through the host that does not run the tenant: the owner hears of it (LISTEN/NOTIFY), so within a bound one
        // of its next events is queued. Probes, one at a time, until one is.
        using (var put = await other.Http.PutAsync(
            $"/api/tenants/{Tenant}/webhooks",
            new StringContent($$"""{"url":"{{_receiver.Url}}","event_types":["message"],"secret":"{{Secret}}"}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        long putAt = Stopwatch.GetTimestamp();
        int probes = 0;
        string probe;
        do
        {
            Assert.True(Stopwatch.GetElapsedTime(putAt) < Bound, $"The owner did not queue an event within {Bound} of the PUT on the other host ({probes} probes)");
            probe = "wamid.PROBE" + (++probes).ToString(CultureInfo.InvariantCulture);
            await DeliverAndWaitHandledAsync(other, owner, probe, "probe");
        }
        while ((await Outbox(owner).CountAsync(Tenant)) is { Pending: 0, Delivered: 0 });
        output.WriteLine($"PUT on the other host: seen by the owner's event {Stopwatch.GetElapsedTime(putAt).TotalMilliseconds:F0} ms after, probe {probes}");

        // Twenty messages over both hosts; after ten the owner stops (SIGTERM) and the tenant moves to the other host.
        var texts = Enumerable.Range(0, 20).Select(i => "w" + i.ToString("D2", CultureInfo.InvariantCulture)).ToList();
        int connectedBefore = other.Events.Of<TenantConnectedEvent>(Tenant).Count;
        for (int i = 0; i < 10; i++)
        {
            using var response = await PostAsync(i % 2 == 0 ? owner : other, "wamid." + texts[i], texts[i]);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await owner.Host.StopAsync();
        for (int i = 10; i < 20; i++)
        {
            using var response = await PostAsync(other, "wamid." + texts[i], texts[i]);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await other.Events.WaitForAsync<TenantConnectedEvent>(Tenant, connectedBefore + 1);
        // An event the stopping owner had claimed but not sent is taken by the next owner when its claim expires (2 × Timeout + 5 s =
        // 25 s at the defaults), so the bound covers one claim; nothing is lost or sent twice, it may arrive that much later.
        await _receiver.WaitUntilAsync(() => _receiver.Requests.Any(r => r.EventId == "message:wamid." + texts[^1]), limit: TimeSpan.FromSeconds(45));

        var received = _receiver.Requests.ToArray();
        output.WriteLine($"received {received.Length} deliveries: {string.Join(", ", received.Select(r => r.EventId))}");
        Assert.Equal(["message:" + probe, .. texts.Select(t => "message:wamid." + t)], received.Select(r => r.EventId));
        Assert.All(received, r => Assert.Equal(200, r.AnsweredStatus));
        Assert.All(received, r => Assert.True(
            MultiTenant.Webhooks.WebhookSignature.Verify(Encoding.UTF8.GetBytes(Secret), r.Signature, r.Body, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)),
            $"{r.EventId}: bad signature"));

        // The receiver answers before the sender records the delivery: the last one may still be completing.
        var expected = new MultiTenant.Webhooks.WebhookOutboxCounts(0, 21, 0);
        Assert.Equal(expected, await Eventually.UntilAsync(
            async () => await Outbox(other).CountAsync(Tenant), counts => counts == expected, "every delivery recorded as delivered"));
    }

    private static MultiTenant.Webhooks.ITenantWebhookOutbox Outbox(CloudApiTestHost host) => host.Services.GetRequiredService<MultiTenant.Webhooks.ITenantWebhookOutbox>();

    /// <summary>Delivers one message through <paramref name="via"/> and waits until <paramref name="owner"/>'s inbox has none pending.</summary>
    private static async Task DeliverAndWaitHandledAsync(CloudApiTestHost via, CloudApiTestHost owner, string id, string text)
    {
        using var response = await PostAsync(via, id, text);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await owner.Events.WaitForAsync(events => events.Any(e => e.Tenant == Tenant && e.Event is MessageEvent { MessageId: var m } && m == id));
        var inbox = owner.Services.GetRequiredService<ITenantInbox>();
        await Eventually.UntilAsync(async () => (await inbox.CountAsync(Tenant)).Pending == 0, $"{id} done in the inbox", Bound);
    }

    private static Task<HttpResponseMessage> PostAsync(CloudApiTestHost host, string id, string text)
    {
        string payload = Envelope(Change(Phone, messages: [TextMessage("16505551234", id, 1739321024, text)]));
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/whatsapp") { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        request.Headers.Add(WebhookSignature.HeaderName, WebhookSignature.Compute(CloudApiTestHost.AppSecret, Encoding.UTF8.GetBytes(payload)));
        return host.Http.SendAsync(request);
    }

    /// <summary>Starts the tenant (through h1) and waits until it is connected on exactly one host: returns (owner, the other).</summary>
    private async Task<(CloudApiTestHost Owner, CloudApiTestHost Other)> StartOnOneHostAsync()
    {
        await _h1.Coordinator.StartAsync(Tenant);
        var connected1 = _h1.Events.WaitForAsync<TenantConnectedEvent>(Tenant);
        var connected2 = _h2.Events.WaitForAsync<TenantConnectedEvent>(Tenant);
        var first = await Task.WhenAny(connected1, connected2);
        await first;
        return first == connected1 ? (_h1, _h2) : (_h2, _h1);
    }

    private Task<CloudApiTestHost> StartHostAsync(string id, string database) =>
        CloudApiTestHost.StartAsync(
            _graph,
            coordinator: o => o.HostId = id,
            tenants: t => t.UsePostgreSql(database)
                .ConfigureSecrets(o => o.KeyEncryptionKey = SecretScan.KeyEncryptionKey)
                .AddTenantWebhooks(o =>
                {
                    o.AllowPrivateTargets = true; // the receiver is on loopback
                    o.PollInterval = TimeSpan.FromMilliseconds(200);
                })
                .UseFleet(o =>
                {
                    o.LeaseTtl = TimeSpan.FromSeconds(2);
                    o.RenewInterval = TimeSpan.FromMilliseconds(500);
                    o.SafetyMargin = TimeSpan.FromMilliseconds(700);
                    o.HeartbeatInterval = TimeSpan.FromMilliseconds(300);
                    o.DeadAfterMissedHeartbeats = 3;
                    o.ReconcileInterval = TimeSpan.FromMilliseconds(250);
                }));
}
