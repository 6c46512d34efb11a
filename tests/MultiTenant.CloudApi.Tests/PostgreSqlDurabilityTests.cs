using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Events;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using static MultiTenant.CloudApi.Tests.Infrastructure.MetaPayloads;

namespace MultiTenant.CloudApi.Tests;

/// <summary>With the PostgreSQL store, credentials and the inbox (with the keys of handled items) live in the database and survive a restart.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgreSqlDurabilityTests(PostgreSqlFixture postgres) : IAsyncLifetime
{
    private const string Phone = "106540352242922";
    private const string Token = "EAAGtoken-durable-0001";

    private FakeGraphApi _graph = null!;

    public async Task InitializeAsync() => _graph = await FakeGraphApi.StartAsync();

    public async Task DisposeAsync() => await _graph.DisposeAsync();

    [Fact]
    public async Task Credentials_and_delivered_ids_survive_a_restart_with_the_postgresql_store()
    {
        string database = await postgres.CreateDatabaseAsync("cloudapi");
        _graph.AddNumber(Phone, Token);
        var tenant = TenantId.Parse("tenant-a");
        string delivery = Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid.DURABLE", 1739321024, "before the restart")]));

        await using (var first = await CloudApiTestHost.StartAsync(_graph, tenants: t => t.UsePostgreSql(database).ConfigureSecrets(o => o.KeyEncryptionKey = SecretScan.KeyEncryptionKey)))
        {
            using var put = await first.Http.PutAsync(
                "/api/tenants/tenant-a/cloud-api/credentials",
                new StringContent($$"""{"phone_number_id":"{{Phone}}","access_token":"{{Token}}"}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
            await first.StartConnectedAsync(tenant);
            using var delivered = await PostAsync(first, delivery);
            Assert.Equal(HttpStatusCode.OK, delivered.StatusCode);
            await first.Events.WaitForAsync<MessageEvent>(tenant);
            Assert.Single(first.Events.Of<MessageEvent>(tenant));
        }

        // A new process on the same database: the tenant resumes with the stored credentials, and Meta's redelivery is absorbed by
        // the inbox key (the fresh message, stored after it, is handled after it: in order).
        await using var second = await CloudApiTestHost.StartAsync(_graph, tenants: t => t.UsePostgreSql(database).ConfigureSecrets(o => o.KeyEncryptionKey = SecretScan.KeyEncryptionKey));
        await second.Events.WaitForAsync<TenantConnectedEvent>(tenant);
        using var redelivered = await PostAsync(second, delivery);
        using var fresh = await PostAsync(second, Envelope(Change(Phone, messages: [TextMessage("16505551234", "wamid.AFTER", 1739321090, "after the restart")])));
        await second.Events.WaitForAsync<MessageEvent>(tenant);

        Assert.Equal(HttpStatusCode.OK, redelivered.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        Assert.Equal(["after the restart"], second.Events.Of<MessageEvent>(tenant).Select(m => m.Text));
        Assert.Equal(Token, (await second.Credentials.GetAsync(tenant))!.AccessToken);
    }

    private static Task<HttpResponseMessage> PostAsync(CloudApiTestHost host, string payload)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/webhooks/whatsapp") { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        request.Headers.Add(WebhookSignature.HeaderName, WebhookSignature.Compute(CloudApiTestHost.AppSecret, Encoding.UTF8.GetBytes(payload)));
        return host.Http.SendAsync(request);
    }
}
