using System.Text;
using Microsoft.Extensions.Time.Testing;
using MultiTenant.Inbox;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.PostgreSql.Tests.Contract;

/// <summary>
/// The contract every inbox and address index passes (embedded and PostgreSQL): one abstract class, one subclass per backend.
/// </summary>
public abstract class InboxContractTests : IAsyncLifetime
{
    private static readonly TenantId T1 = TenantId.Parse("t1");
    private static readonly TenantId T2 = TenantId.Parse("t2");
    private static readonly TenantAddress Number = new("cloudapi", "106540352242922");

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    protected ITenantInbox Inbox { get; private set; } = null!;

    protected ITenantAddressIndex Addresses { get; private set; } = null!;

    /// <summary>A new, empty inbox and index on <see cref="Time"/>.</summary>
    protected abstract Task<(ITenantInbox Inbox, ITenantAddressIndex Addresses)> CreateAsync();

    /// <summary>A second inbox over the same storage (another host), or the same one for a backend that lives in one process.</summary>
    protected abstract Task<ITenantInbox> OpenAnotherAsync();

    public virtual async Task InitializeAsync() => (Inbox, Addresses) = await CreateAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    private static InboxWrite Item(TenantId tenant, string key, string text = "x") =>
        new(tenant, key, "test", "message", Encoding.UTF8.GetBytes(text));

    private static InboxConsumer NewConsumer(long epoch = 0) => new(Guid.NewGuid(), epoch);

    private static string[] Keys(IEnumerable<InboxItem> items) => items.Select(i => i.Key).ToArray();

    // ---- address index ----

    [Fact]
    public async Task A_free_address_is_claimed_and_found()
    {
        Assert.Null(await Addresses.FindAsync(Number));
        Assert.Equal(AddressClaimResult.Claimed, await Addresses.ClaimAsync(Number, T1));
        Assert.Equal(T1, await Addresses.FindAsync(Number));
        Assert.Equal(AddressClaimResult.AlreadyHeld, await Addresses.ClaimAsync(Number, T1));
        Assert.Equal([Number], await Addresses.ListAsync(T1, "cloudapi"));
        Assert.Empty(await Addresses.ListAsync(T1, "other"));
    }

    [Fact]
    public async Task An_address_held_by_another_tenant_is_not_taken_and_cannot_be_released_by_it()
    {
        await Addresses.ClaimAsync(Number, T1);

        Assert.Equal(AddressClaimResult.HeldByAnotherTenant, await Addresses.ClaimAsync(Number, T2));
        Assert.False(await Addresses.ReleaseAsync(Number, T2));
        Assert.Equal(T1, await Addresses.FindAsync(Number));

        Assert.True(await Addresses.ReleaseAsync(Number, T1));
        Assert.Null(await Addresses.FindAsync(Number));
        Assert.Equal(AddressClaimResult.Claimed, await Addresses.ClaimAsync(Number, T2));
    }

    [Fact]
    public async Task Of_concurrent_claims_of_one_address_exactly_one_wins()
    {
        var tenants = Enumerable.Range(0, 16).Select(i => TenantId.Parse("c" + i)).ToArray();
        using var start = new ManualResetEventSlim();
        var claims = tenants.Select(t => Task.Run(async () =>
        {
            start.Wait();
            return (Tenant: t, Result: await Addresses.ClaimAsync(Number, t));
        })).ToArray();
        start.Set();
        var results = await Task.WhenAll(claims);

        var winner = Assert.Single(results, r => r.Result == AddressClaimResult.Claimed);
        Assert.All(results.Where(r => r.Tenant != winner.Tenant), r => Assert.Equal(AddressClaimResult.HeldByAnotherTenant, r.Result));
        Assert.Equal(winner.Tenant, await Addresses.FindAsync(Number));
    }

    [Fact]
    public void Addresses_are_validated()
    {
        Assert.Throws<ArgumentException>(() => new TenantAddress("Cloud API", "1"));
        Assert.Throws<ArgumentException>(() => new TenantAddress("cloudapi", ""));
        Assert.Throws<ArgumentException>(() => new TenantAddress("cloudapi", "a\0b"));
        Assert.Throws<ArgumentException>(() => new TenantAddress("cloudapi", new string('1', 256)));
    }

    // ---- inbox: write and duplicates ----

    [Fact]
    public async Task Written_items_are_claimed_in_order_per_tenant()
    {
        var result = await Inbox.WriteAsync([Item(T1, "a"), Item(T2, "z"), Item(T1, "b"), Item(T1, "c")]);
        Assert.Equal(new InboxWriteResult(4, 0), result);

        var claimed = await Inbox.ClaimAsync(T1, NewConsumer(), 10);

        Assert.Equal(["a", "b", "c"], Keys(claimed));
        Assert.All(claimed, i => Assert.Equal(1, i.Attempts));
        Assert.All(claimed, i => Assert.Equal(InboxItemState.Pending, i.State));
        Assert.Equal("x", Encoding.UTF8.GetString(claimed[0].Payload.Span));
        Assert.Equal(Time.GetUtcNow(), claimed[0].ReceivedAt);
        Assert.Equal(["z"], Keys(await Inbox.ClaimAsync(T2, NewConsumer(), 10)));
    }

    [Fact]
    public async Task Duplicates_are_absorbed_by_the_key_in_any_state_and_within_one_write()
    {
        await Inbox.WriteAsync([Item(T1, "a"), Item(T1, "b")]);
        var consumer = NewConsumer();
        var a = (await Inbox.ClaimAsync(T1, consumer, 1))[0];
        Assert.True(await Inbox.CompleteAsync(T1, a.Id, consumer));

        var again = await Inbox.WriteAsync([Item(T1, "a"), Item(T1, "b"), Item(T1, "c"), Item(T1, "c"), Item(T2, "a")]);

        Assert.Equal(new InboxWriteResult(2, 3), again);
        Assert.Equal(new InboxCounts(Pending: 2, Done: 1, DeadLetters: 0), await Inbox.CountAsync(T1));
        Assert.Equal(["b", "c"], Keys(await Inbox.ClaimAsync(T1, NewConsumer(), 10)));
    }

    [Fact]
    public async Task Concurrent_writes_of_the_same_key_store_it_once()
    {
        var other = await OpenAnotherAsync();
        var writes = Enumerable.Range(0, 8)
            .Select(i => Task.Run(async () => await (i % 2 == 0 ? Inbox : other).WriteAsync([Item(T1, "same")])))
            .ToArray();
        var results = await Task.WhenAll(writes);

        Assert.Equal(1, results.Sum(r => r.Added));
        Assert.Equal(7, results.Sum(r => r.Duplicates));
        Assert.Equal(1, (await Inbox.CountAsync(T1)).Pending);
    }

    [Fact]
    public async Task Invalid_items_are_refused_and_nothing_of_the_write_is_stored()
    {
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await Inbox.WriteAsync([Item(T1, "ok"), Item(T1, "bad\nkey")]));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await Inbox.WriteAsync([new InboxWrite(T1, "k", "Bad Source", "message", Array.Empty<byte>())]));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await Inbox.WriteAsync([new InboxWrite(default, "k", "test", "message", Array.Empty<byte>())]));

        Assert.Equal(default, await Inbox.CountAsync(T1));
    }

    // ---- claims ----

    [Fact]
    public async Task A_claimed_item_is_not_claimed_by_another_consumer_of_the_same_epoch_until_its_claims_are_reset()
    {
        await Inbox.WriteAsync([Item(T1, "a"), Item(T1, "b")]);
        var first = NewConsumer();
        Assert.Equal(["a"], Keys(await Inbox.ClaimAsync(T1, first, 1)));

        var second = NewConsumer();
        Assert.Empty(await Inbox.ClaimAsync(T1, second, 10)); // "a" is held, and "b" waits behind it

        Assert.Equal(1, await Inbox.ResetClaimsAsync(T1, ownershipEpoch: 0));
        var resumed = await Inbox.ClaimAsync(T1, second, 10);
        Assert.Equal(["a", "b"], Keys(resumed));
        Assert.Equal(2, resumed[0].Attempts);
        Assert.False(await Inbox.CompleteAsync(T1, resumed[0].Id, first)); // the first consumer lost its claim
        Assert.True(await Inbox.CompleteAsync(T1, resumed[0].Id, second));
    }

    [Fact]
    public async Task A_consumer_of_a_higher_epoch_takes_over_the_claims_of_a_lower_one()
    {
        await Inbox.WriteAsync([Item(T1, "a")]);
        var old = NewConsumer(epoch: 3);
        var item = (await Inbox.ClaimAsync(T1, old, 1))[0];

        Assert.Empty(await Inbox.ClaimAsync(T1, NewConsumer(epoch: 2), 1));
        var newer = NewConsumer(epoch: 4);
        Assert.Equal(["a"], Keys(await Inbox.ClaimAsync(T1, newer, 1)));
        Assert.False(await Inbox.CompleteAsync(T1, item.Id, old));
        Assert.True(await Inbox.CompleteAsync(T1, item.Id, newer));
        Assert.Equal(0, await Inbox.ResetClaimsAsync(T1, 10));
    }

    [Fact]
    public async Task Released_items_are_free_again_without_the_attempt_their_claim_counted()
    {
        await Inbox.WriteAsync([Item(T1, "a"), Item(T1, "b"), Item(T1, "c")]);
        var consumer = NewConsumer();
        var claimed = await Inbox.ClaimAsync(T1, consumer, 10);

        Assert.Equal(0, await Inbox.ReleaseAsync(T1, [claimed[1].Id], NewConsumer())); // not its claim
        Assert.Equal(0, await Inbox.ReleaseAsync(T2, [claimed[1].Id], consumer)); // another tenant cannot name it
        Assert.Equal(2, await Inbox.ReleaseAsync(T1, [claimed[1].Id, claimed[2].Id], consumer));
        Assert.Equal(0, await Inbox.ReleaseAsync(T1, [claimed[1].Id], consumer)); // freed already

        Assert.True(await Inbox.CompleteAsync(T1, claimed[0].Id, consumer));
        var again = await Inbox.ClaimAsync(T1, NewConsumer(), 10);
        Assert.Equal(["b", "c"], Keys(again));
        Assert.All(again, item => Assert.Equal(1, item.Attempts)); // the released claim did not count
    }

    [Fact]
    public async Task Completed_items_are_not_claimed_again()
    {
        await Inbox.WriteAsync([Item(T1, "a"), Item(T1, "b")]);
        var consumer = NewConsumer();
        var claimed = await Inbox.ClaimAsync(T1, consumer, 10);
        foreach (var item in claimed)
        {
            Assert.True(await Inbox.CompleteAsync(T1, item.Id, consumer));
        }

        Assert.Empty(await Inbox.ClaimAsync(T1, NewConsumer(), 10));
        Assert.Equal(new InboxCounts(0, 2, 0), await Inbox.CountAsync(T1));
        Assert.False(await Inbox.CompleteAsync(T2, claimed[0].Id, consumer)); // another tenant cannot name it
    }

    // ---- failures, backoff, dead letters ----

    [Fact]
    public async Task A_failed_item_waits_for_its_retry_and_holds_back_the_later_items_of_its_tenant_only()
    {
        await Inbox.WriteAsync([Item(T1, "a"), Item(T1, "b"), Item(T2, "z")]);
        var consumer = NewConsumer();
        var a = (await Inbox.ClaimAsync(T1, consumer, 1))[0];
        Assert.True(await Inbox.FailAsync(T1, a.Id, consumer, "handler failed", Time.GetUtcNow().AddSeconds(10)));

        Assert.Empty(await Inbox.ClaimAsync(T1, consumer, 10));
        Assert.Equal(["z"], Keys(await Inbox.ClaimAsync(T2, NewConsumer(), 10)));

        Time.Advance(TimeSpan.FromSeconds(10));
        var retried = await Inbox.ClaimAsync(T1, consumer, 10);
        Assert.Equal(["a", "b"], Keys(retried));
        Assert.Equal(2, retried[0].Attempts);
        Assert.Equal("handler failed", retried[0].LastError);
    }

    [Fact]
    public async Task A_dead_letter_no_longer_holds_back_its_tenant_and_is_retried_in_its_place()
    {
        await Inbox.WriteAsync([Item(T1, "a"), Item(T1, "b")]);
        var consumer = NewConsumer();
        var a = (await Inbox.ClaimAsync(T1, consumer, 1))[0];
        Assert.True(await Inbox.FailAsync(T1, a.Id, consumer, "gave up", retryAt: null));

        var dead = Assert.Single(await Inbox.ListDeadLettersAsync(T1, 10));
        Assert.Equal(("a", InboxItemState.DeadLetter, "gave up", 1), (dead.Key, dead.State, dead.LastError, dead.Attempts));
        Assert.Empty(await Inbox.ListDeadLettersAsync(T2, 10));
        Assert.Equal(new InboxCounts(1, 0, 1), await Inbox.CountAsync(T1));

        Assert.Equal(["b"], Keys(await Inbox.ClaimAsync(T1, consumer, 10)));
        Assert.Equal(1, await Inbox.ResetClaimsAsync(T1, 0));

        Assert.False(await Inbox.RetryAsync(T2, dead.Id)); // not its item
        Assert.True(await Inbox.RetryAsync(T1, dead.Id));
        Assert.False(await Inbox.RetryAsync(T1, dead.Id)); // no longer a dead letter
        var again = await Inbox.ClaimAsync(T1, consumer, 10);
        Assert.Equal(["a", "b"], Keys(again));
        Assert.Equal(1, again[0].Attempts);
        Assert.Empty(await Inbox.ListDeadLettersAsync(T1, 10));
    }

    [Fact]
    public async Task Retry_all_revives_every_dead_letter_and_listing_pages_by_id()
    {
        await Inbox.WriteAsync([Item(T1, "a"), Item(T1, "b"), Item(T1, "c")]);
        var consumer = NewConsumer();
        foreach (var item in await Inbox.ClaimAsync(T1, consumer, 10))
        {
            await Inbox.FailAsync(T1, item.Id, consumer, new string('e', 5000), retryAt: null);
        }

        var page1 = await Inbox.ListDeadLettersAsync(T1, 2);
        Assert.Equal(["a", "b"], Keys(page1));
        Assert.Equal(1000, page1[0].LastError!.Length);
        Assert.Equal(["c"], Keys(await Inbox.ListDeadLettersAsync(T1, 2, page1[^1].Id)));

        Assert.Equal(3, await Inbox.RetryAllAsync(T1));
        Assert.Equal(0, await Inbox.RetryAllAsync(T1));
        Assert.Equal(["a", "b", "c"], Keys(await Inbox.ClaimAsync(T1, NewConsumer(), 10)));
    }

    [Fact]
    public async Task Fail_by_a_consumer_without_the_claim_changes_nothing()
    {
        await Inbox.WriteAsync([Item(T1, "a")]);
        var owner = NewConsumer();
        var a = (await Inbox.ClaimAsync(T1, owner, 1))[0];

        Assert.False(await Inbox.FailAsync(T1, a.Id, NewConsumer(), "no", retryAt: null));
        Assert.Empty(await Inbox.ListDeadLettersAsync(T1, 10));
    }

    [Fact]
    public async Task Completed_items_are_purged_after_their_retention_and_a_purged_key_is_new_again()
    {
        await Inbox.WriteAsync([Item(T1, "a"), Item(T1, "b")]);
        var consumer = NewConsumer();
        var a = (await Inbox.ClaimAsync(T1, consumer, 1))[0];
        await Inbox.CompleteAsync(T1, a.Id, consumer);
        Time.Advance(TimeSpan.FromDays(8));

        Assert.Equal(0, await Inbox.PurgeCompletedAsync(Time.GetUtcNow().AddDays(-9)));
        Assert.Equal(1, await Inbox.PurgeCompletedAsync(Time.GetUtcNow().AddDays(-7)));
        Assert.Equal(new InboxCounts(1, 0, 0), await Inbox.CountAsync(T1));
        Assert.Equal(1, (await Inbox.WriteAsync([Item(T1, "a")])).Added);
    }

    // ---- unrouted ----

    [Fact]
    public async Task Items_for_an_unknown_address_are_kept_bounded_and_adopted_by_the_tenant_that_claims_it()
    {
        Assert.True(await Inbox.WriteUnroutedAsync(Number, [Item(default, "a"), Item(default, "b")], capacity: 3));
        Assert.True(await Inbox.WriteUnroutedAsync(Number, [Item(default, "a")], capacity: 3)); // a duplicate
        Assert.Equal(2, await Inbox.CountUnroutedAsync());
        Assert.False(await Inbox.WriteUnroutedAsync(new TenantAddress("cloudapi", "999"), [Item(default, "c"), Item(default, "d")], capacity: 3));
        Assert.Equal(2, await Inbox.CountUnroutedAsync());

        await Inbox.WriteAsync([Item(T1, "b")]); // the tenant already has "b"
        Assert.Equal(1, await Inbox.AdoptUnroutedAsync(Number, T1));

        Assert.Equal(0, await Inbox.CountUnroutedAsync());
        Assert.Equal(["b", "a"], Keys(await Inbox.ClaimAsync(T1, NewConsumer(), 10)));
        Assert.Equal(0, await Inbox.AdoptUnroutedAsync(Number, T1));
    }

    // ---- signals ----

    [Fact]
    public async Task A_waiting_consumer_is_woken_by_a_write_for_its_tenant_from_any_host()
    {
        var other = await OpenAnotherAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        // The first wait starts the listener (PostgreSQL); writes may race its LISTEN, so keep writing new keys until woken.
        var woken = Inbox.WaitForItemsAsync(T1, timeout.Token);
        int n = 0;
        await Eventually.UntilAsync(
            async () =>
            {
                await other.WriteAsync([Item(T1, "k" + n++)]);
                return woken.IsCompleted;
            },
            "a write on another inbox wakes the waiting consumer");

        await woken;
        var quiet = Inbox.WaitForItemsAsync(T2, CancellationToken.None);
        await other.WriteAsync([Item(T1, "more")]);
        Assert.False(quiet.IsCompleted);
    }
}
