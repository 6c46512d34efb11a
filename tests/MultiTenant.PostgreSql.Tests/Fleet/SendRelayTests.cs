using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MultiTenant.Clients;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>
/// The send relay alone, on a real PostgreSQL schema, between two instances with real lease keepers and recording hosts instead of
/// coordinators: local sends under a held lease, relayed sends answered through the notifications, the owner's poll on a fake clock when
/// a notification is lost, and the withdrawal of a request no owner claimed.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class SendRelayTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private static readonly TenantId Tenant = TenantId.Parse("relayed");
    private static readonly OutboundMessage Message = new("15550001111", "hello");
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private PostgreSqlTestStore _store = null!;
    private string _schema = null!;

    public async Task InitializeAsync()
    {
        _schema = PostgreSqlTestStore.NewSchema();
        _store = PostgreSqlTestStore.Open(await fixture.GetDatabaseAsync(nameof(SendRelayTests)), _schema);
        await _store.Store.MigrateAsync();
        await _store.Store.SetDesiredStateAsync(Tenant, running: true, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
        await _store.DisposeAsync();
    }

    [Fact]
    public async Task The_lease_holder_sends_locally_and_any_other_instance_relays_to_it_and_answers_with_its_message_id()
    {
        var owner = Start("owner", listen: true);
        var requester = Start("requester", listen: true);
        Assert.Equal(1, await owner.Leases.AcquireAsync([Tenant], "owner", new Dictionary<TenantId, long>(), (_, _) => { }, CancellationToken.None));

        var local = await owner.Relay.RouteSendAsync(owner.Host, Tenant, Message, CancellationToken.None);
        Assert.Equal("owner/relayed/hello", local.MessageId);

        var relayed = await requester.Relay.RouteSendAsync(requester.Host, Tenant, Message, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("owner/relayed/hello", relayed.MessageId);
        Assert.Equal(2, owner.Host.Sends.Count);
        Assert.Empty(requester.Host.Sends);
        Assert.Equal(0, await CountRowsAsync());
    }

    [Fact]
    public async Task An_owner_that_missed_the_notification_answers_on_its_poll_timer_and_a_request_nobody_claims_is_withdrawn_in_time()
    {
        // The owner does not listen (its notifications are lost) and polls on a fake clock: only the test moves it.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var owner = Start("owner", listen: false, time);
        var requester = Start("requester", listen: true);
        Assert.Equal(1, await owner.Leases.AcquireAsync([Tenant], "owner", new Dictionary<TenantId, long>(), (_, _) => { }, CancellationToken.None));

        var send = requester.Relay.RouteSendAsync(requester.Host, Tenant, Message, CancellationToken.None);
        await Eventually.UntilAsync(async () => await CountRowsAsync() == 1, "the request is in the relay table");
        await Task.Delay(200);
        Assert.False(send.IsCompleted);
        Assert.Empty(owner.Host.Sends);

        time.Advance(TimeSpan.FromSeconds(5)); // the owner's poll interval
        var result = await send.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("owner/relayed/hello", result.MessageId);
        Assert.Single(owner.Host.Sends);

        // With a relay timeout of 1 s and the owner's clock standing still, nobody claims the next request: it is withdrawn (so it can
        // never be sent) and the send fails as unavailable, safe to retry. The owner's next poll finds nothing to send.
        var impatient = Start("impatient", listen: true, relayTimeout: TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<TenantUnavailableException>(
            () => impatient.Relay.RouteSendAsync(impatient.Host, Tenant, Message, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, await CountRowsAsync());
        time.Advance(TimeSpan.FromSeconds(5));
        await Task.Delay(200);
        Assert.Single(owner.Host.Sends);
    }

    private Instance Start(string hostId, bool listen, TimeProvider? time = null, TimeSpan? relayTimeout = null)
    {
        var options = new FleetOptions();
        FleetHarness.FastTimings(options);
        options.RelayTimeout = relayTimeout ?? TimeSpan.FromSeconds(15);
        var clock = time ?? TimeProvider.System;
        var sql = new FleetStatements(_schema);
        var data = _store.DataSource;
        SendRelay? relay = null;
        var channel = new FleetChannel(data, sql, clock, NullLogger.Instance, payload => relay?.OnNotification(payload), () => relay?.Wake());
        var leases = new LeaseKeeper(data, sql, channel, options, clock, NullLogger.Instance, Guid.NewGuid(), 5, () => false, () => false, _ => { });
        relay = new SendRelay(_store.Store, sql, channel, options, clock, NullLogger.Instance, leases, superseded: () => false);
        var host = new RecordingTenantHost(hostId);
        if (listen)
        {
            _loops.Add(channel.RunAsync(_stop.Token));
        }

        _loops.Add(relay.RunAsync(host, _stop.Token));
        return new Instance(leases, relay, host);
    }

    private async Task<long> CountRowsAsync()
    {
        await using var command = _store.DataSource.CreateCommand($"SELECT count(*) FROM \"{_schema}\".send_relay");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private sealed record Instance(LeaseKeeper Leases, SendRelay Relay, RecordingTenantHost Host);
}
