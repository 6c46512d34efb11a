using System.Text;
using Microsoft.Extensions.Time.Testing;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Webhooks;

namespace MultiTenant.PostgreSql.Tests.Contract;

/// <summary>The contract every webhook subscription store and outbox passes (embedded and PostgreSQL).</summary>
public abstract class WebhookStoreContractTests : IAsyncLifetime
{
    private static readonly TenantId T1 = TenantId.Parse("t1");
    private static readonly TenantId T2 = TenantId.Parse("t2");
    private static readonly Uri Url = new("https://hooks.example.com/whatsapp");
    private static readonly byte[] Secret = [1, 2, 3, 4];
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    private ITenantWebhookSubscriptionStore Subscriptions { get; set; } = null!;

    private ITenantWebhookOutbox Outbox { get; set; } = null!;

    /// <summary>A new, empty store on <see cref="Time"/>.</summary>
    protected abstract Task<(ITenantWebhookSubscriptionStore Subscriptions, ITenantWebhookOutbox Outbox)> CreateAsync();

    /// <summary>A second store over the same storage (another host), or the same one for a backend that lives in one process.</summary>
    protected abstract Task<(ITenantWebhookSubscriptionStore Subscriptions, ITenantWebhookOutbox Outbox)> OpenAnotherAsync();

    public virtual async Task InitializeAsync() => (Subscriptions, Outbox) = await CreateAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Put_creates_then_replaces_keeping_id_and_creation_time_and_another_host_reads_it()
    {
        Assert.Null(await Subscriptions.GetAsync(T1));
        var created = await Subscriptions.PutAsync(T1, Url, [WebhookEventTypes.Message], Secret);
        Assert.NotEqual(Guid.Empty, created.Id);
        Assert.Equal(T1, created.Tenant);
        Assert.Equal(Url, created.Url);
        Assert.Equal([WebhookEventTypes.Message], created.EventTypes);
        Assert.Equal(Secret, created.ProtectedSecret.ToArray());
        Assert.Equal(Time.GetUtcNow(), created.CreatedAt);

        Time.Advance(TimeSpan.FromSeconds(3));
        var replaced = await Subscriptions.PutAsync(T1, new Uri("https://other.example.com/x?y=1"), [WebhookEventTypes.All], new byte[] { 9, 9 });
        Assert.Equal(created.Id, replaced.Id);
        Assert.Equal(created.CreatedAt, replaced.CreatedAt);
        Assert.Equal(Time.GetUtcNow(), replaced.UpdatedAt);

        var (other, _) = await OpenAnotherAsync();
        var read = await other.GetAsync(T1);
        Assert.NotNull(read);
        Assert.Equal(replaced.Id, read.Id);
        Assert.Equal("https://other.example.com/x?y=1", read.Url.OriginalString);
        Assert.Equal([WebhookEventTypes.All], read.EventTypes);
        Assert.Equal(new byte[] { 9, 9 }, read.ProtectedSecret.ToArray());
        Assert.Null(await other.GetAsync(T2));
    }

    [Fact]
    public async Task Delete_removes_the_subscription_and_a_new_one_gets_a_new_id()
    {
        var first = await Subscriptions.PutAsync(T1, Url, [WebhookEventTypes.All], Secret);
        Assert.False(await Subscriptions.DeleteAsync(T2));
        Assert.True(await Subscriptions.DeleteAsync(T1));
        Assert.False(await Subscriptions.DeleteAsync(T1));
        Assert.Null(await Subscriptions.GetAsync(T1));

        Time.Advance(TimeSpan.FromSeconds(1));
        var second = await Subscriptions.PutAsync(T1, Url, [WebhookEventTypes.All], Secret);
        Assert.NotEqual(first.Id, second.Id);
    }

    [Fact]
    public async Task Bad_arguments_are_refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(async () => await Subscriptions.PutAsync(default, Url, [WebhookEventTypes.All], Secret));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Subscriptions.PutAsync(T1, new Uri("ftp://example.com/"), [WebhookEventTypes.All], Secret));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Subscriptions.PutAsync(T1, Url, [], Secret));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Subscriptions.PutAsync(T1, Url, ["nope"], Secret));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Subscriptions.PutAsync(T1, Url, [WebhookEventTypes.All], ReadOnlyMemory<byte>.Empty));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Outbox.EnqueueAsync(T1, "", WebhookEventTypes.Message, Body("x")));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Outbox.EnqueueAsync(T1, "e", WebhookEventTypes.All, Body("x")));
    }

    [Fact]
    public async Task Events_are_queued_only_for_a_subscription_that_accepts_their_type_and_once_per_event_id()
    {
        Assert.False(await Outbox.EnqueueAsync(T1, "e1", WebhookEventTypes.Message, Body("a")));
        await Subscriptions.PutAsync(T1, Url, [WebhookEventTypes.Message], Secret);
        Assert.True(await Outbox.EnqueueAsync(T1, "e1", WebhookEventTypes.Message, Body("a")));
        Assert.False(await Outbox.EnqueueAsync(T1, "e1", WebhookEventTypes.Message, Body("again")));
        Assert.False(await Outbox.EnqueueAsync(T1, "e2", WebhookEventTypes.Receipt, Body("b")));
        Assert.False(await Outbox.EnqueueAsync(T2, "e1", WebhookEventTypes.Message, Body("c")));
        Assert.Equal(new WebhookOutboxCounts(1, 0, 0), await Outbox.CountAsync(T1));
        Assert.Equal(default, await Outbox.CountAsync(T2));

        var item = await Outbox.ClaimAsync(T1, Guid.NewGuid(), Lease);
        Assert.NotNull(item);
        Assert.Equal("e1", item.EventId);
        Assert.Equal(WebhookEventTypes.Message, item.EventType);
        Assert.Equal("a", Encoding.UTF8.GetString(item.Body.Span));
        Assert.Equal(1, item.Attempts);
        Assert.Equal(Time.GetUtcNow(), item.CreatedAt);
    }

    [Fact]
    public async Task Only_the_head_is_claimed_in_order_and_a_failed_head_holds_back_the_rest_until_due()
    {
        await Subscriptions.PutAsync(T1, Url, [WebhookEventTypes.All], Secret);
        for (int i = 1; i <= 3; i++)
        {
            Assert.True(await Outbox.EnqueueAsync(T1, $"e{i}", WebhookEventTypes.Message, Body($"{i}")));
        }

        var sender = Guid.NewGuid();
        var first = await Outbox.ClaimAsync(T1, sender, Lease);
        Assert.Equal("e1", first!.EventId);
        Assert.Null(await Outbox.ClaimAsync(T1, Guid.NewGuid(), Lease)); // leased by sender: another sender gets nothing

        Assert.True(await Outbox.FailAsync(T1, first.Id, sender, "HTTP 503", Time.GetUtcNow() + TimeSpan.FromSeconds(10)));
        Assert.Null(await Outbox.ClaimAsync(T1, sender, Lease)); // not due: e2 waits behind it
        Assert.Equal(Time.GetUtcNow() + TimeSpan.FromSeconds(10), await Outbox.GetNextAttemptAsync(T1));
        Assert.Empty(await Outbox.ListDueTenantsAsync(10));

        Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal([T1], await Outbox.ListDueTenantsAsync(10));
        var again = await Outbox.ClaimAsync(T1, sender, Lease);
        Assert.Equal("e1", again!.EventId);
        Assert.Equal(2, again.Attempts);
        Assert.Equal("HTTP 503", again.LastError);
        Assert.True(await Outbox.CompleteAsync(T1, again.Id, sender));
        Assert.False(await Outbox.CompleteAsync(T1, again.Id, sender));

        var second = await Outbox.ClaimAsync(T1, sender, Lease);
        Assert.Equal("e2", second!.EventId);
        Assert.True(await Outbox.FailAsync(T1, second.Id, sender, "gave up", retryAt: null));
        var third = await Outbox.ClaimAsync(T1, sender, Lease);
        Assert.Equal("e3", third!.EventId);
        Assert.True(await Outbox.CompleteAsync(T1, third.Id, sender));

        Assert.Null(await Outbox.GetNextAttemptAsync(T1));
        Assert.Equal(new WebhookOutboxCounts(0, 2, 1), await Outbox.CountAsync(T1));
        var dead = Assert.Single(await Outbox.ListDeadAsync(T1, 0, 10));
        Assert.Equal("e2", dead.EventId);
        Assert.Equal("gave up", dead.LastError);
        Assert.Empty(await Outbox.ListDeadAsync(T1, dead.Id, 10));
    }

    [Fact]
    public async Task A_lease_that_ran_out_passes_to_another_sender_and_the_old_sender_can_no_longer_complete()
    {
        await Subscriptions.PutAsync(T1, Url, [WebhookEventTypes.All], Secret);
        await Outbox.EnqueueAsync(T1, "e1", WebhookEventTypes.Message, Body("1"));
        var (_, other) = await OpenAnotherAsync();
        var dead = Guid.NewGuid();
        var alive = Guid.NewGuid();
        var first = await Outbox.ClaimAsync(T1, dead, Lease);
        Assert.NotNull(first);
        Assert.Null(await other.ClaimAsync(T1, alive, Lease));
        Assert.Equal(Time.GetUtcNow() + Lease, await other.GetNextAttemptAsync(T1));

        Time.Advance(Lease);
        var taken = await other.ClaimAsync(T1, alive, Lease);
        Assert.Equal(first.Id, taken!.Id);
        Assert.Equal(2, taken.Attempts);
        Assert.False(await Outbox.CompleteAsync(T1, first.Id, dead));
        Assert.False(await Outbox.FailAsync(T1, first.Id, dead, "late", null));
        Assert.True(await other.CompleteAsync(T1, taken.Id, alive));
    }

    [Fact]
    public async Task Deleting_the_subscription_makes_undelivered_events_dead_letters_and_purge_removes_old_delivered_ones()
    {
        await Subscriptions.PutAsync(T1, Url, [WebhookEventTypes.All], Secret);
        await Subscriptions.PutAsync(T2, Url, [WebhookEventTypes.All], Secret);
        await Outbox.EnqueueAsync(T1, "e1", WebhookEventTypes.Message, Body("1"));
        await Outbox.EnqueueAsync(T1, "e2", WebhookEventTypes.Message, Body("2"));
        await Outbox.EnqueueAsync(T2, "e1", WebhookEventTypes.Message, Body("1"));
        var sender = Guid.NewGuid();
        var delivered = await Outbox.ClaimAsync(T1, sender, Lease);
        await Outbox.CompleteAsync(T1, delivered!.Id, sender);

        Assert.True(await Subscriptions.DeleteAsync(T1));
        Assert.Equal(new WebhookOutboxCounts(0, 1, 1), await Outbox.CountAsync(T1));
        Assert.Equal(WebhookSubscriptions.DeletedError, Assert.Single(await Outbox.ListDeadAsync(T1, 0, 10)).LastError);
        Assert.Equal(new WebhookOutboxCounts(1, 0, 0), await Outbox.CountAsync(T2));

        Assert.Equal(0, await Outbox.PurgeAsync(Time.GetUtcNow()));
        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await Outbox.PurgeAsync(Time.GetUtcNow()));
        Assert.Equal(new WebhookOutboxCounts(0, 0, 1), await Outbox.CountAsync(T1));
    }

    [Fact]
    public async Task A_dead_letter_retried_is_queued_anew_in_its_place_and_retry_all_counts_what_it_queued()
    {
        await Subscriptions.PutAsync(T1, Url, [WebhookEventTypes.All], Secret);
        for (int i = 1; i <= 3; i++)
        {
            await Outbox.EnqueueAsync(T1, $"e{i}", WebhookEventTypes.Message, Body($"{i}"));
        }

        var sender = Guid.NewGuid();
        var first = await Outbox.ClaimAsync(T1, sender, Lease);
        Assert.True(await Outbox.FailAsync(T1, first!.Id, sender, "gave up", retryAt: null));
        Assert.False(await Outbox.RetryDeadAsync(T1, first.Id + 1000));
        Assert.False(await Outbox.RetryDeadAsync(T2, first.Id)); // another tenant's id
        Assert.Equal(0, await Outbox.RetryAllDeadAsync(T2));

        Time.Advance(TimeSpan.FromHours(1));
        Assert.True(await Outbox.RetryDeadAsync(T1, first.Id));
        Assert.False(await Outbox.RetryDeadAsync(T1, first.Id)); // pending now, no longer a dead letter
        Assert.Equal(new WebhookOutboxCounts(3, 0, 0), await Outbox.CountAsync(T1));
        var again = await Outbox.ClaimAsync(T1, sender, Lease);
        Assert.Equal("e1", again!.EventId); // before e2 and e3: its place in the order
        Assert.Equal(1, again.Attempts);
        Assert.Equal(Time.GetUtcNow(), again.CreatedAt); // a new retry period
        Assert.True(await Outbox.FailAsync(T1, again.Id, sender, "gave up", retryAt: null));
        var second = await Outbox.ClaimAsync(T1, sender, Lease);
        Assert.True(await Outbox.FailAsync(T1, second!.Id, sender, "gave up", retryAt: null));

        Assert.Equal(2, await Outbox.RetryAllDeadAsync(T1));
        Assert.Empty(await Outbox.ListDeadAsync(T1, 0, 10));
        Assert.Equal("e1", (await Outbox.ClaimAsync(T1, sender, Lease))!.EventId);
    }

    [Fact]
    public async Task Every_change_of_a_subscription_is_announced_to_another_host()
    {
        var (other, _) = await OpenAnotherAsync();
        var changes = Assert.IsAssignableFrom<IWebhookSubscriptionChanges>(other);
        var heard = System.Threading.Channels.Channel.CreateUnbounded<TenantId?>();
        using var registration = changes.Subscribe(tenant => heard.Writer.TryWrite(tenant));
        await ListeningAsync(heard.Reader);

        await Subscriptions.PutAsync(T1, Url, [WebhookEventTypes.All], Secret);
        Assert.Equal(T1, await NextAsync(heard.Reader));
        await Subscriptions.PutAsync(T1, Url, [WebhookEventTypes.Message], Secret);
        Assert.Equal(T1, await NextAsync(heard.Reader));
        Assert.False(await Subscriptions.DeleteAsync(T2)); // nothing changed: nothing announced
        Assert.True(await Subscriptions.DeleteAsync(T1));
        Assert.Equal(T1, await NextAsync(heard.Reader));

        // Unregistered: a later registration hears the next change, the first one no longer does.
        registration.Dispose();
        var later = System.Threading.Channels.Channel.CreateUnbounded<TenantId?>();
        using var second = changes.Subscribe(tenant => later.Writer.TryWrite(tenant));
        await Subscriptions.PutAsync(T2, Url, [WebhookEventTypes.All], Secret);
        Assert.Equal(T2, await NextAsync(later.Reader));
        Assert.False(heard.Reader.TryRead(out _));
    }

    /// <summary>Waits until the other host listens (a backend with a connection to open announces that with <see langword="null"/>).</summary>
    protected virtual Task ListeningAsync(System.Threading.Channels.ChannelReader<TenantId?> heard) => Task.CompletedTask;

    /// <summary>The next announcement, bounded: through a database the notification crosses a real socket.</summary>
    protected static async Task<TenantId?> NextAsync(System.Threading.Channels.ChannelReader<TenantId?> heard) =>
        await heard.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

    private static ReadOnlyMemory<byte> Body(string text) => Encoding.UTF8.GetBytes(text);
}

/// <summary>The embedded webhook store passes the contract.</summary>
public sealed class InMemoryWebhookStoreContractTests : WebhookStoreContractTests
{
    private InMemoryTenantWebhookStore? _store;

    protected override Task<(ITenantWebhookSubscriptionStore Subscriptions, ITenantWebhookOutbox Outbox)> CreateAsync()
    {
        _store = new InMemoryTenantWebhookStore(Time);
        return Task.FromResult<(ITenantWebhookSubscriptionStore, ITenantWebhookOutbox)>((_store, _store));
    }

    protected override Task<(ITenantWebhookSubscriptionStore Subscriptions, ITenantWebhookOutbox Outbox)> OpenAnotherAsync() =>
        Task.FromResult<(ITenantWebhookSubscriptionStore, ITenantWebhookOutbox)>((_store!, _store!));
}

/// <summary>The PostgreSQL webhook store passes the contract: each test in a fresh schema of this class's database.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgreSqlWebhookStoreContractTests(PostgreSqlFixture fixture) : WebhookStoreContractTests
{
    private readonly List<PostgreSqlTestStore> _opened = [];
    private readonly List<PostgreSqlTenantWebhookStore> _stores = [];
    private readonly string _schema = PostgreSqlTestStore.NewSchema();
    private string _connectionString = string.Empty;

    protected override async Task<(ITenantWebhookSubscriptionStore Subscriptions, ITenantWebhookOutbox Outbox)> CreateAsync()
    {
        _connectionString = await fixture.GetDatabaseAsync(nameof(PostgreSqlWebhookStoreContractTests));
        var opened = Open();
        await opened.Store.MigrateAsync();
        var store = new PostgreSqlTenantWebhookStore(opened.Store, Time);
        _stores.Add(store);
        return (store, store);
    }

    protected override Task<(ITenantWebhookSubscriptionStore Subscriptions, ITenantWebhookOutbox Outbox)> OpenAnotherAsync()
    {
        var store = new PostgreSqlTenantWebhookStore(Open().Store, Time);
        _stores.Add(store);
        return Task.FromResult<(ITenantWebhookSubscriptionStore, ITenantWebhookOutbox)>((store, store));
    }

    protected override async Task ListeningAsync(System.Threading.Channels.ChannelReader<TenantId?> heard) =>
        Assert.Null(await NextAsync(heard)); // the listener's connection is up: everything from now on is heard

    public override async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        foreach (var opened in _opened)
        {
            await opened.DisposeAsync();
        }
    }

    private PostgreSqlTestStore Open()
    {
        var opened = PostgreSqlTestStore.Open(_connectionString, _schema);
        _opened.Add(opened);
        return opened;
    }
}
