using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>Sends accepted by a host that does not run the tenant reach its owner through the database (SPEC §8: any host accepts any call).</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class FleetSendRelayTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private FleetHarness _fleet = null!;
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _database = await fixture.GetDatabaseAsync(nameof(FleetSendRelayTests));
        _fleet = new FleetHarness(_database, PostgreSqlTestStore.NewSchema());
    }

    public async Task DisposeAsync()
    {
        await _fleet.DisposeAsync();
        _fleet.History.AssertNoOverlap();
    }

    [Fact]
    public async Task A_send_through_a_host_that_does_not_run_the_tenant_returns_the_owner_clients_message_id()
    {
        var (a, b, tenant) = await StartOnBAsync();
        b.Factory.Send = (t, m) => Task.FromResult(new SendMessageResult($"b/{t}/{m.To}/{m.Text}"));

        var result = await a.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15550001111", "hello")).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal($"b/{tenant}/15550001111/hello", result.MessageId);
        Assert.Equal(0, await CountRelayRowsAsync());
    }

    [Fact]
    public async Task A_relayed_send_is_a_tenant_send_span_marked_not_local_on_the_requesting_host_and_a_client_send_span_on_the_owner()
    {
        using var spans = new SpanCollector();
        var (a, b, tenant) = await StartOnBAsync(prefix: "relay-span-"); // an id of its own: other tests' spans are not counted
        b.Factory.Send = (_, _) => Task.FromResult(new SendMessageResult("relayed-1"));

        var result = await a.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15550001111", "hello")).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("relayed-1", result.MessageId);
        var send = Assert.Single(await spans.WaitForAsync("tenant send", tenant.Value, count: 1));
        Assert.Equal(false, send.GetTagItem(TenantTracing.LocalAttribute));
        Assert.Equal("text", send.GetTagItem(TenantTracing.MessageKindAttribute));
        Assert.Equal(System.Diagnostics.ActivityStatusCode.Unset, send.Status);
        var clientSend = Assert.Single(await spans.WaitForAsync("tenant client send", tenant.Value, count: 1));
        Assert.Equal(System.Diagnostics.ActivityKind.Client, clientSend.Kind);
    }

    [Fact]
    public async Task A_send_refused_by_the_owner_fails_on_the_requesting_host_with_the_same_send_error()
    {
        var (a, b, tenant) = await StartOnBAsync();
        b.Factory.Send = (_, _) => throw new TenantSendException("Throttled by WhatsApp.", isTransient: true, errorCode: "131056", retryAfter: TimeSpan.FromSeconds(7));

        var error = await Assert.ThrowsAsync<TenantSendException>(
            () => a.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15550001111", "hello")).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal("Throttled by WhatsApp.", error.Message);
        Assert.True(error.IsTransient);
        Assert.Equal("131056", error.ErrorCode);
        Assert.Equal(TimeSpan.FromSeconds(7), error.RetryAfter);
        Assert.Equal(0, await CountRelayRowsAsync());

        b.Factory.Send = (_, _) => throw new TenantSendException("Policy refusal.", isTransient: false);
        var permanent = await Assert.ThrowsAsync<TenantSendException>(
            () => a.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15550001111", "hello")).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(permanent.IsTransient);
        Assert.Null(permanent.ErrorCode);
        Assert.Null(permanent.RetryAfter);
    }

    [Fact]
    public async Task A_send_to_a_stopped_tenant_is_not_connected_and_to_an_unknown_tenant_not_found_on_any_host()
    {
        var (a, b, tenant) = await StartOnBAsync();
        await a.Coordinator.StopAsync(tenant);
        await Eventually.UntilAsync(() => !_fleet.History.Running().ContainsKey(tenant), "the owner stopped the tenant");

        foreach (var host in new[] { a, b })
        {
            var error = await Assert.ThrowsAsync<TenantNotConnectedException>(
                () => host.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15550001111", "hello")).WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(TenantState.Stopped, error.State);
            await Assert.ThrowsAsync<TenantNotFoundException>(
                () => host.Coordinator.SendMessageAsync(TenantId.Parse("never-started"), new OutboundMessage("15550001111", "hello")));
        }
    }

    [Fact]
    public async Task A_send_relayed_to_an_owner_whose_tenant_is_not_connected_fails_as_not_connected()
    {
        var (a, b, tenant) = await StartOnBAsync();
        // The owner's send finds the tenant not connected (as its supervisor does between a disconnect and the reconnect).
        b.Factory.Send = (t, _) => throw new TenantNotConnectedException(t, TenantState.Disconnected);

        var error = await Assert.ThrowsAsync<TenantNotConnectedException>(
            () => a.Coordinator.SendMessageAsync(tenant, new OutboundMessage("15550001111", "hello")).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(tenant, error.Tenant);
        Assert.Equal(TenantState.Disconnected, error.State);
        Assert.Equal(0, await CountRelayRowsAsync());
    }

    [Fact]
    public async Task Every_kind_a_reply_and_a_url_preview_are_relayed_whole_and_the_owner_sends_exactly_that_message()
    {
        var (a, b, tenant) = await StartOnBAsync();
        var sent = new System.Collections.Concurrent.ConcurrentQueue<OutboundMessage>();
        b.Factory.Send = (_, m) =>
        {
            sent.Enqueue(m);
            return Task.FromResult(new SendMessageResult("wamid.b" + sent.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        };
        OutboundMessage[] messages =
        [
            new("15550001111", new TemplateContent("hello_world", "en_US")),
            new("15550001111", new MediaContent(MediaKind.Image, MediaSource.FromId("1")) { Caption = "a cat" }),
            new("15550001111", new MediaContent(MediaKind.Document, MediaSource.FromLink(new Uri("https://example.com/a.pdf"))) { Filename = "a.pdf" }),
            new("15550001111", new LocationContent(48.85837, 2.294481) { Name = "Paris" }),
            new("15550001111", new ReactionContent("wamid.1", "👍")),
            new("15550001111", "a reply") { ReplyToMessageId = "wamid.1" },
            new("15550001111", new TextContent("https://example.com") { PreviewUrl = true }),
        ];

        for (int i = 0; i < messages.Length; i++)
        {
            // Sent through host a, which does not run the tenant: relayed to b, answered with b's message id.
            var result = await a.Coordinator.SendMessageAsync(tenant, messages[i]).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("wamid.b" + (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), result.MessageId);
        }

        Assert.Equal(
            messages.Select(m => System.Text.Encoding.UTF8.GetString(OutboundMessageJson.ToUtf8Bytes(m))),
            sent.Select(m => System.Text.Encoding.UTF8.GetString(OutboundMessageJson.ToUtf8Bytes(m))));
        Assert.Equal(0, await CountRelayRowsAsync());
    }

    private async Task<(FleetTestHost A, FleetTestHost B, TenantId Tenant)> StartOnBAsync(string prefix = "x")
    {
        var a = await _fleet.AddHostAsync("a");
        var b = await _fleet.AddHostAsync("b");
        var tenant = TenantId.Parse(FleetHarness.PickTenantPlacedOn("b", ["a", "b"], prefix));
        await a.Coordinator.StartAsync(tenant);
        await _fleet.WaitUntilAllRunOnceAsync([tenant], ["b"]);
        await Eventually.UntilAsync(async () => (await b.Coordinator.GetStatusAsync(tenant))?.State == TenantState.Connected, "the tenant is connected on b");
        return (a, b, tenant);
    }

    private async Task<long> CountRelayRowsAsync()
    {
        await using var connection = new NpgsqlConnection(_database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM \"{_fleet.Schema}\".send_relay", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
