using System.Text;
using MultiTenant.Storage;

namespace MultiTenant.PostgreSql.Tests.Contract;

/// <summary>The stores a backend offers, as the coordinator sees them.</summary>
public sealed record StoreUnderTest(ITenantRegistry Registry, ITenantStatusStore Statuses, ITenantStateStoreProvider States, ITenantStoreHealth Health)
{
    public static StoreUnderTest From<T>(T store)
        where T : ITenantRegistry, ITenantStatusStore, ITenantStateStoreProvider, ITenantStoreHealth =>
        new(store, store, store, store);
}

/// <summary>
/// The contract every tenant store passes (the embedded store and PostgreSQL, with and without row-level security): one abstract class,
/// one subclass per backend, as DistributedLock does.
/// </summary>
public abstract class TenantStoreContractTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private StoreUnderTest? _store;

    protected StoreUnderTest Store => _store ?? throw new InvalidOperationException("Not initialised.");

    /// <summary>A new, empty store.</summary>
    protected abstract Task<StoreUnderTest> CreateStoreAsync();

    /// <summary>Another instance over the same storage, as a coordinator restarted on it would get.</summary>
    protected abstract Task<StoreUnderTest> ReopenStoreAsync();

    public virtual async Task InitializeAsync() => _store = await CreateStoreAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    private static TenantId Id(string value) => TenantId.Parse(value);

    private static TenantStatus Status(string id, TenantState state, int minute = 0, string? error = null, string? host = "host-a") =>
        new(Id(id), state, state == TenantState.Stopped ? null : T0, T0.AddMinutes(minute), error, host);

    // ---- registry ----

    [Fact]
    public async Task A_new_store_has_no_desired_tenants()
    {
        Assert.Empty(await Store.Registry.ListDesiredRunningAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Started_tenants_are_listed_in_ordinal_order_and_stopped_ones_are_not()
    {
        foreach (string id in new[] { "b", "B", "a", "A-1", "10", "9", "a.b", "a_b" })
        {
            await Store.Registry.SetDesiredStateAsync(Id(id), running: true, CancellationToken.None);
        }

        await Store.Registry.SetDesiredStateAsync(Id("a.b"), running: false, CancellationToken.None);
        await Store.Registry.SetDesiredStateAsync(Id("never-started"), running: false, CancellationToken.None);

        var desired = await Store.Registry.ListDesiredRunningAsync(CancellationToken.None);

        string[] expected = ["10", "9", "A-1", "B", "a", "a_b", "b"];
        Assert.Equal(expected, desired.Select(t => t.Value));
    }

    [Fact]
    public async Task Recording_the_same_desired_state_twice_is_harmless()
    {
        await Store.Registry.SetDesiredStateAsync(Id("t1"), running: true, CancellationToken.None);
        await Store.Registry.SetDesiredStateAsync(Id("t1"), running: true, CancellationToken.None);

        Assert.Equal([Id("t1")], await Store.Registry.ListDesiredRunningAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_stopped_tenant_started_again_is_desired_again()
    {
        await Store.Registry.SetDesiredStateAsync(Id("t1"), running: true, CancellationToken.None);
        await Store.Registry.SetDesiredStateAsync(Id("t1"), running: false, CancellationToken.None);
        await Store.Registry.SetDesiredStateAsync(Id("t1"), running: true, CancellationToken.None);

        Assert.Equal([Id("t1")], await Store.Registry.ListDesiredRunningAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Desired_state_survives_a_restart_on_the_same_storage()
    {
        await Store.Registry.SetDesiredStateAsync(Id("runs"), running: true, CancellationToken.None);
        await Store.Registry.SetDesiredStateAsync(Id("stopped"), running: true, CancellationToken.None);
        await Store.Registry.SetDesiredStateAsync(Id("stopped"), running: false, CancellationToken.None);

        var reopened = await ReopenStoreAsync();

        Assert.Equal([Id("runs")], await reopened.Registry.ListDesiredRunningAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Ids_that_differ_only_by_case_are_different_tenants()
    {
        await Store.Registry.SetDesiredStateAsync(Id("Tenant1"), running: true, CancellationToken.None);
        await Store.Registry.SetDesiredStateAsync(Id("tenant1"), running: false, CancellationToken.None);

        Assert.Equal([Id("Tenant1")], await Store.Registry.ListDesiredRunningAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_default_tenant_id_is_rejected_everywhere()
    {
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await Store.Registry.SetDesiredStateAsync(default, true, CancellationToken.None));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () =>
            await Store.Statuses.UpsertAsync([new TenantStatus(default, TenantState.Starting, T0, T0, null, null)], CancellationToken.None));
        Assert.ThrowsAny<ArgumentException>(() => Store.States.GetStore(default));
    }

    // ---- status ----

    [Fact]
    public async Task An_unknown_tenant_has_no_status()
    {
        Assert.Null(await Store.Statuses.GetAsync(Id("unknown"), CancellationToken.None));
        Assert.Empty(await Store.Statuses.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Statuses_written_in_one_batch_are_read_back_field_for_field_in_ordinal_order()
    {
        var written = new[]
        {
            Status("b", TenantState.Connected, 1),
            Status("A", TenantState.Error, 2, error: "logged out", host: "host-b"),
            Status("a", TenantState.Stopped, 3, host: null),
            Status("c", TenantState.Disconnected, 4, error: "stream closed"),
            Status("d", TenantState.Starting, 5),
        };

        await Store.Statuses.UpsertAsync(written, CancellationToken.None);

        Assert.Equal(written.OrderBy(s => s.BusinessId.Value, StringComparer.Ordinal), await Store.Statuses.ListAsync(CancellationToken.None));
        Assert.Equal(written[1], await Store.Statuses.GetAsync(Id("A"), CancellationToken.None));
        Assert.Null((await Store.Statuses.GetAsync(Id("a"), CancellationToken.None))!.StartedAt);
    }

    [Fact]
    public async Task A_newer_status_replaces_the_older_one()
    {
        await Store.Statuses.UpsertAsync([Status("t1", TenantState.Starting, 1)], CancellationToken.None);
        await Store.Statuses.UpsertAsync([Status("t1", TenantState.Error, 2, error: "no paired device")], CancellationToken.None);
        await Store.Statuses.UpsertAsync([Status("t1", TenantState.Connected, 3)], CancellationToken.None);

        var status = await Store.Statuses.GetAsync(Id("t1"), CancellationToken.None);

        Assert.Equal(Status("t1", TenantState.Connected, 3), status);
        Assert.Null(status!.Error);
        Assert.Single(await Store.Statuses.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task When_a_batch_holds_a_tenant_twice_the_last_status_wins()
    {
        await Store.Statuses.UpsertAsync(
            [Status("t1", TenantState.Starting, 1), Status("t2", TenantState.Connected, 1), Status("t1", TenantState.Connected, 2)],
            CancellationToken.None);

        Assert.Equal(TenantState.Connected, (await Store.Statuses.GetAsync(Id("t1"), CancellationToken.None))!.State);
        Assert.Equal(2, (await Store.Statuses.ListAsync(CancellationToken.None)).Count);
    }

    [Fact]
    public async Task An_empty_batch_writes_nothing()
    {
        await Store.Statuses.UpsertAsync([], CancellationToken.None);

        Assert.Empty(await Store.Statuses.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_timestamp_with_an_offset_is_the_same_instant_when_read_back()
    {
        var local = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.FromHours(2));
        await Store.Statuses.UpsertAsync([new TenantStatus(Id("t1"), TenantState.Connected, local, local, null, "h")], CancellationToken.None);

        var status = await Store.Statuses.GetAsync(Id("t1"), CancellationToken.None);

        Assert.Equal(local.UtcDateTime, status!.UpdatedAt.UtcDateTime);
        Assert.Equal(local.UtcDateTime, status.StartedAt!.Value.UtcDateTime);
    }

    [Fact]
    public async Task Timestamps_keep_at_least_microsecond_precision()
    {
        var precise = T0.AddTicks(1_234_567_0); // 1.234567 s
        await Store.Statuses.UpsertAsync([new TenantStatus(Id("t1"), TenantState.Connected, precise, precise, null, "h")], CancellationToken.None);

        var status = await Store.Statuses.GetAsync(Id("t1"), CancellationToken.None);

        Assert.Equal(precise, status!.UpdatedAt);
    }

    [Fact]
    public async Task Status_pages_follow_the_ordinal_order_after_the_cursor_and_filter_by_state()
    {
        // Issue 12: a keyset page, the same on every backend (ordinal: "10" < "9" < "B" < "a").
        string[] ids = ["9", "a", "B", "10", "a.b", "A-1", "b", "a_b"];
        await Store.Statuses.UpsertAsync(
            [.. ids.Select((id, i) => Status(id, i % 3 == 0 ? TenantState.Error : TenantState.Connected))], CancellationToken.None);
        string[] ordinal = [.. ids.Order(StringComparer.Ordinal)];

        var seen = new List<string>();
        var query = new TenantStatusQuery { Limit = 3 };
        while (true)
        {
            var page = await Store.Statuses.ListPageAsync(query, CancellationToken.None);
            Assert.InRange(page.Statuses.Count, 1, 3);
            seen.AddRange(page.Statuses.Select(static s => s.BusinessId.Value));
            if (page.Next is not { } next)
            {
                break;
            }

            Assert.Equal(page.Statuses[^1].BusinessId, next);
            query = query with { After = next };
        }

        Assert.Equal(ordinal, seen);
        var errors = await Store.Statuses.ListPageAsync(new TenantStatusQuery { State = TenantState.Error }, CancellationToken.None);
        Assert.Equal(ids.Where((_, i) => i % 3 == 0).Order(StringComparer.Ordinal), errors.Statuses.Select(static s => s.BusinessId.Value));
        Assert.Null(errors.Next);
        var tail = await Store.Statuses.ListPageAsync(new TenantStatusQuery { After = Id("a"), Limit = 10 }, CancellationToken.None);
        Assert.Equal(["a.b", "a_b", "b"], tail.Statuses.Select(static s => s.BusinessId.Value));
        Assert.Empty((await Store.Statuses.ListPageAsync(new TenantStatusQuery { After = Id("b") }, CancellationToken.None)).Statuses);
    }

    [Fact]
    public async Task A_batch_of_five_thousand_statuses_is_written_whole()
    {
        var batch = Enumerable.Range(0, 5000).Select(i => Status("tenant-" + i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture), TenantState.Connected)).ToList();

        await Store.Statuses.UpsertAsync(batch, CancellationToken.None);

        var all = await Store.Statuses.ListAsync(CancellationToken.None);
        Assert.Equal(5000, all.Count);
        Assert.Equal(batch, all);
    }

    // ---- client state ----

    [Fact]
    public async Task A_state_store_is_bound_to_its_tenant()
    {
        Assert.Equal(Id("t1"), Store.States.GetStore(Id("t1")).Tenant);
    }

    [Fact]
    public async Task A_missing_value_reads_as_null()
    {
        var store = Store.States.GetStore(Id("t1"));

        Assert.Null(await store.GetAsync("device", "id"));
        Assert.False(await store.DeleteAsync("device", "id"));
        Assert.Empty(await store.ListKeysAsync("device"));
    }

    [Fact]
    public async Task A_value_is_read_back_byte_for_byte_and_replaced_on_write()
    {
        var store = Store.States.GetStore(Id("t1"));
        byte[] first = [0, 1, 2, 255, 0];
        byte[] second = Encoding.UTF8.GetBytes("second");

        await store.SetAsync("device", "id", first);
        Assert.Equal(first, await store.GetAsync("device", "id"));

        await store.SetAsync("device", "id", second);
        Assert.Equal(second, await store.GetAsync("device", "id"));
    }

    [Fact]
    public async Task An_empty_value_is_stored_as_empty_not_as_missing()
    {
        var store = Store.States.GetStore(Id("t1"));

        await store.SetAsync("device", "empty", ReadOnlyMemory<byte>.Empty);

        Assert.Equal(Array.Empty<byte>(), await store.GetAsync("device", "empty"));
    }

    [Fact]
    public async Task A_megabyte_value_round_trips()
    {
        var store = Store.States.GetStore(Id("t1"));
        byte[] value = new byte[1024 * 1024];
        new Random(42).NextBytes(value);

        await store.SetAsync("sessions", "big", value);

        Assert.Equal(value, await store.GetAsync("sessions", "big"));
    }

    [Fact]
    public async Task Changing_a_returned_array_does_not_change_the_stored_value()
    {
        var store = Store.States.GetStore(Id("t1"));
        await store.SetAsync("device", "id", new byte[] { 1, 2, 3 });

        var read = await store.GetAsync("device", "id");
        read![0] = 99;

        Assert.Equal(new byte[] { 1, 2, 3 }, await store.GetAsync("device", "id"));
    }

    [Fact]
    public async Task Deleting_a_value_removes_it_and_reports_that_it_existed()
    {
        var store = Store.States.GetStore(Id("t1"));
        await store.SetAsync("device", "id", new byte[] { 1 });

        Assert.True(await store.DeleteAsync("device", "id"));
        Assert.Null(await store.GetAsync("device", "id"));
        Assert.False(await store.DeleteAsync("device", "id"));
    }

    [Fact]
    public async Task Keys_are_listed_per_namespace_in_ordinal_order()
    {
        var store = Store.States.GetStore(Id("t1"));
        foreach (string key in new[] { "b", "B", "a", "é", "10", "9", "😀", "\uFFFD" })
        {
            await store.SetAsync("sessions", key, new byte[] { 1 });
        }

        await store.SetAsync("keys", "other-namespace", new byte[] { 1 });

        var keys = await store.ListKeysAsync("sessions");

        string[] expected = ["10", "9", "B", "a", "b", "é", "😀", "\uFFFD"];
        Assert.Equal(expected, keys);
        Assert.Equal(["other-namespace"], await store.ListKeysAsync("keys"));
    }

    [Fact]
    public async Task Clearing_deletes_every_value_of_the_tenant_and_counts_them()
    {
        var store = Store.States.GetStore(Id("t1"));
        await store.SetAsync("device", "id", new byte[] { 1 });
        await store.SetAsync("sessions", "s1", new byte[] { 1 });
        await store.SetAsync("sessions", "s2", new byte[] { 1 });

        Assert.Equal(3, await store.ClearAsync());
        Assert.Null(await store.GetAsync("device", "id"));
        Assert.Empty(await store.ListKeysAsync("sessions"));
        Assert.Equal(0, await store.ClearAsync());
    }

    [Fact]
    public async Task A_tenant_never_sees_nor_changes_another_tenants_values()
    {
        var a = Store.States.GetStore(Id("tenant-a"));
        var b = Store.States.GetStore(Id("tenant-b"));
        var upperA = Store.States.GetStore(Id("Tenant-a"));
        await b.SetAsync("device", "id", new byte[] { 0xB });

        Assert.Null(await a.GetAsync("device", "id"));
        Assert.Null(await upperA.GetAsync("device", "id"));
        Assert.Empty(await a.ListKeysAsync("device"));
        Assert.False(await a.DeleteAsync("device", "id"));
        Assert.Equal(0, await a.ClearAsync());

        await a.SetAsync("device", "id", new byte[] { 0xA });

        Assert.Equal(new byte[] { 0xB }, await b.GetAsync("device", "id"));
        Assert.Equal(new byte[] { 0xA }, await a.GetAsync("device", "id"));
        Assert.Equal(1, await a.ClearAsync());
        Assert.Equal(new byte[] { 0xB }, await b.GetAsync("device", "id"));
    }

    [Theory]
    [InlineData("x' OR '1'='1")]
    [InlineData("x\" OR \"1\"=\"1")]
    [InlineData("'; DELETE FROM client_state; --")]
    [InlineData("%")]
    [InlineData("_")]
    [InlineData("*")]
    [InlineData("tenant-b")]
    public async Task A_crafted_namespace_or_key_is_only_ever_a_literal_of_the_callers_tenant(string crafted)
    {
        var a = Store.States.GetStore(Id("tenant-a"));
        var b = Store.States.GetStore(Id("tenant-b"));
        await b.SetAsync("device", "id", new byte[] { 0xB });
        await b.SetAsync(crafted, crafted, new byte[] { 0xB });

        Assert.Null(await a.GetAsync("device", crafted));
        Assert.Null(await a.GetAsync(crafted, crafted));
        Assert.Null(await a.GetAsync(crafted, "id"));
        Assert.Empty(await a.ListKeysAsync(crafted));
        Assert.False(await a.DeleteAsync(crafted, crafted));

        await a.SetAsync(crafted, crafted, new byte[] { 0xA });

        Assert.Equal(new byte[] { 0xA }, await a.GetAsync(crafted, crafted));
        Assert.Equal([crafted], await a.ListKeysAsync(crafted));
        Assert.Equal(new byte[] { 0xB }, await b.GetAsync(crafted, crafted));
        Assert.Equal(new byte[] { 0xB }, await b.GetAsync("device", "id"));
        Assert.Equal(1, await a.ClearAsync());
        Assert.Equal(new byte[] { 0xB }, await b.GetAsync("device", "id"));
    }

    [Fact]
    public void A_crafted_business_id_cannot_even_name_a_tenant()
    {
        Assert.Throws<InvalidTenantIdException>(() => TenantId.Parse("x' OR '1'='1"));
        Assert.False(TenantId.TryParse("tenant-a' OR business_id <> '", out _));
        Assert.False(TenantId.TryParse("tenant-a;", out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("with\ncontrol")]
    [InlineData("with\0nul")]
    public async Task An_invalid_namespace_or_key_is_rejected(string invalid)
    {
        var store = Store.States.GetStore(Id("t1"));

        await Assert.ThrowsAsync<InvalidStateKeyException>(async () => await store.SetAsync(invalid, "k", new byte[] { 1 }));
        await Assert.ThrowsAsync<InvalidStateKeyException>(async () => await store.SetAsync("ns", invalid, new byte[] { 1 }));
        await Assert.ThrowsAsync<InvalidStateKeyException>(async () => await store.GetAsync("ns", invalid));
        await Assert.ThrowsAsync<InvalidStateKeyException>(async () => await store.ListKeysAsync(invalid));
    }

    [Fact]
    public async Task Keys_of_255_characters_are_accepted_and_of_256_rejected()
    {
        var store = Store.States.GetStore(Id("t1"));
        string longest = new('k', 255);

        await store.SetAsync(longest, longest, new byte[] { 1 });

        Assert.Equal(new byte[] { 1 }, await store.GetAsync(longest, longest));
        await Assert.ThrowsAsync<InvalidStateKeyException>(async () => await store.SetAsync("ns", new string('k', 256), new byte[] { 1 }));
    }

    // ---- health ----

    [Fact]
    public async Task A_reachable_store_reports_itself_healthy()
    {
        var report = await Store.Health.CheckAsync(CancellationToken.None);

        Assert.True(report.Healthy);
        Assert.Null(report.Problem);
        Assert.True(report.Latency >= TimeSpan.Zero);
        Assert.False(string.IsNullOrWhiteSpace(Store.Health.Backend));
    }
}
