using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Events;
using MultiTenant.Hosting;
using MultiTenant.Inbox;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using static MultiTenant.CloudApi.Tests.Infrastructure.MetaPayloads;

namespace MultiTenant.CloudApi.Tests.Fleet;

/// <summary>
/// Two Cloud API hosts as a fleet on one real PostgreSQL database (leases, shared phone number index and inbox) with the fake Graph on
/// loopback: Meta may deliver to either host; the tenant's owner handles every message exactly once.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class CloudApiFleetTests(PostgreSqlFixture postgres) : IAsyncLifetime
{
    private const string Phone = "106540352242922";
    private const string Token = "EAAGtoken-fleet-0001";

    private FakeGraphApi _graph = null!;
    private CloudApiTestHost _h1 = null!;
    private CloudApiTestHost _h2 = null!;

    public async Task InitializeAsync()
    {
        _graph = await FakeGraphApi.StartAsync();
        _graph.AddNumber(Phone, Token);
        string database = await postgres.CreateDatabaseAsync("cloudapifleet");
        _h1 = await StartHostAsync("h1", database);
        _h2 = await StartHostAsync("h2", database);
    }

    public async Task DisposeAsync()
    {
        await _h1.DisposeAsync();
        await _h2.DisposeAsync();
        await _graph.DisposeAsync();
    }

    [Fact]
    public async Task Delivery_to_the_non_owner_host_reaches_the_owners_handlers_exactly_once_and_concurrent_duplicates_once()
    {
        var tenant = TenantId.Parse("tenant-a");
        await _h1.Credentials.SetAsync(tenant, new CloudApiCredentials(Phone, Token));
        var (owner, other) = await StartOnOneHostAsync(tenant);
        string payload = Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid.FLEET1", 1739321024, "to the other host")]));

        using var toOther = await PostAsync(other, payload);
        var duplicates = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => PostAsync(i % 2 == 0 ? owner : other, payload)));
        await MarkAsync(other, owner, tenant);

        Assert.Equal(HttpStatusCode.OK, toOther.StatusCode);
        Assert.All(duplicates, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(["to the other host", "mark"], owner.Events.Of<MessageEvent>(tenant).Select(m => m.Text));
        Assert.Empty(other.Events.Of<MessageEvent>(tenant));
        foreach (var response in duplicates)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Delivery_before_the_tenant_runs_is_handled_once_after_it_runs()
    {
        var tenant = TenantId.Parse("tenant-b");
        await _h2.Credentials.SetAsync(tenant, new CloudApiCredentials(Phone, Token));
        string payload = Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid.EARLY", 1739321024, "before the start")]));

        using var early = await PostAsync(_h1, payload);
        using var again = await PostAsync(_h2, payload);
        Assert.Equal(HttpStatusCode.OK, early.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(1, (await _h1.Services.GetRequiredService<ITenantInbox>().CountAsync(tenant)).Pending);

        var (owner, other) = await StartOnOneHostAsync(tenant);
        await MarkAsync(other, owner, tenant);

        Assert.Equal(["before the start", "mark"], owner.Events.Of<MessageEvent>(tenant).Select(m => m.Text));
        Assert.Empty(other.Events.Of<MessageEvent>(tenant));
    }

    [Fact]
    public async Task Stop_and_start_again_mid_stream_handles_every_message_exactly_once()
    {
        var tenant = TenantId.Parse("tenant-c");
        await _h1.Credentials.SetAsync(tenant, new CloudApiCredentials(Phone, Token));
        var (owner, other) = await StartOnOneHostAsync(tenant);
        var texts = Enumerable.Range(0, 20).Select(i => "m" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture)).ToList();
        for (int i = 0; i < 10; i++)
        {
            using var response = await PostAsync(i % 2 == 0 ? owner : other, Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid." + texts[i], 1739321024 + i, texts[i])])));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await owner.Coordinator.StopAsync(tenant); // mid-stream: some of the ten may not be handled yet
        for (int i = 10; i < 20; i++)
        {
            using var response = await PostAsync(i % 2 == 0 ? owner : other, Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid." + texts[i], 1739321024 + i, texts[i])])));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var (next, nextOther) = await StartOnOneHostAsync(tenant);
        await MarkAsync(nextOther, next, tenant);

        var handled = _h1.Events.Of<MessageEvent>(tenant).Concat(_h2.Events.Of<MessageEvent>(tenant)).Select(m => m.Text!).Where(t => t != "mark").ToList();
        Assert.Equal(texts, handled.Order(StringComparer.Ordinal)); // all twenty, none twice, on whichever host ran the tenant
    }

    [Fact]
    public async Task Graceful_handover_mid_stream_handles_every_message_exactly_once_on_the_new_owner()
    {
        var tenant = TenantId.Parse("tenant-d");
        await _h1.Credentials.SetAsync(tenant, new CloudApiCredentials(Phone, Token));
        var (owner, other) = await StartOnOneHostAsync(tenant);
        int connectedBefore = other.Events.Of<TenantConnectedEvent>(tenant).Count;
        var texts = Enumerable.Range(0, 20).Select(i => "h" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture)).ToList();
        for (int i = 0; i < 10; i++)
        {
            using var response = await PostAsync(i % 2 == 0 ? owner : other, Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid." + texts[i], 1739321024 + i, texts[i])])));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await owner.Host.StopAsync(); // SIGTERM: the tenant is handed over to the other host, some messages still unhandled
        for (int i = 10; i < 20; i++)
        {
            using var response = await PostAsync(other, Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid." + texts[i], 1739321024 + i, texts[i])])));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await other.Events.WaitForAsync<TenantConnectedEvent>(tenant, connectedBefore + 1);
        await MarkAsync(other, other, tenant);

        var handled = owner.Events.Of<MessageEvent>(tenant).Concat(other.Events.Of<MessageEvent>(tenant)).Select(m => m.Text!).Where(t => t != "mark").ToList();
        Assert.Equal(texts, handled.Order(StringComparer.Ordinal)); // all twenty, none twice, over both owners
        var onNewOwner = other.Events.Of<MessageEvent>(tenant).Select(m => m.Text!).Where(t => t != "mark").ToList();
        Assert.Equal(texts[10..], onNewOwner[^10..]); // in order, after whatever the old owner left unhandled
    }

    [Fact]
    public async Task Concurrent_credential_puts_for_one_number_on_two_hosts_have_one_winner()
    {
        var puts = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            (i % 2 == 0 ? _h1 : _h2).Http.PutAsync(
                "/api/tenants/racer-" + i + "/cloud-api/credentials",
                new StringContent($$"""{"phone_number_id":"{{Phone}}","access_token":"EAAGtoken-{{i}}"}""", Encoding.UTF8, "application/json"))));

        Assert.Single(puts, r => r.StatusCode == HttpStatusCode.NoContent);
        Assert.Equal(7, puts.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        int winner = Array.FindIndex(puts, r => r.StatusCode == HttpStatusCode.NoContent);
        Assert.Equal(TenantId.Parse("racer-" + winner), await _h2.Services.GetRequiredService<ITenantAddressIndex>().FindAsync(new TenantAddress("cloudapi", Phone)));
        foreach (var put in puts)
        {
            Assert.DoesNotContain("racer-" + winner, await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            put.Dispose();
        }
    }

    /// <summary>Starts the tenant (through h1) and waits until it is connected on exactly one host: returns (owner, the other).</summary>
    private async Task<(CloudApiTestHost Owner, CloudApiTestHost Other)> StartOnOneHostAsync(TenantId tenant)
    {
        int before1 = _h1.Events.Of<TenantConnectedEvent>(tenant).Count;
        int before2 = _h2.Events.Of<TenantConnectedEvent>(tenant).Count;
        await _h1.Coordinator.StartAsync(tenant);
        var connected1 = _h1.Events.WaitForAsync<TenantConnectedEvent>(tenant, before1 + 1);
        var connected2 = _h2.Events.WaitForAsync<TenantConnectedEvent>(tenant, before2 + 1);
        var first = await Task.WhenAny(connected1, connected2);
        await first;
        return first == connected1 ? (_h1, _h2) : (_h2, _h1);
    }

    /// <summary>
    /// Posts a "mark" message to <paramref name="via"/> and waits until <paramref name="owner"/> handled it: the inbox delivers in order,
    /// so everything stored before it was handled (or absorbed as a duplicate) by then.
    /// </summary>
    private static async Task MarkAsync(CloudApiTestHost via, CloudApiTestHost owner, TenantId tenant)
    {
        string id = "wamid.MARK." + Guid.NewGuid().ToString("N");
        using var response = await PostAsync(via, Envelope(Change(Phone, messages: [TextMessage("16505551234", id, 1739329999, "mark")])));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await owner.Events.WaitForAsync(events => events.Any(e => e.Tenant == tenant && e.Event is MessageEvent { MessageId: var m } && m == id));
    }

    private static Task<HttpResponseMessage> PostAsync(CloudApiTestHost host, string payload)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/whatsapp") { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        request.Headers.Add(WebhookSignature.HeaderName, WebhookSignature.Compute(CloudApiTestHost.AppSecret, Encoding.UTF8.GetBytes(payload)));
        return host.Http.SendAsync(request);
    }

    private Task<CloudApiTestHost> StartHostAsync(string id, string database) =>
        CloudApiTestHost.StartAsync(
            _graph,
            coordinator: o => o.HostId = id,
            tenants: t => t.UsePostgreSql(database)
                .ConfigureSecrets(o => o.KeyEncryptionKey = SecretScan.KeyEncryptionKey)
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
