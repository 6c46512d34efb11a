using MultiTenant.Storage;
using MultiTenant.Tests.Infrastructure;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Storage;

/// <summary>Issue 12: statuses are read a page at a time (keyset on the business id), by the embedded store and the coordinator.</summary>
public sealed class StatusPageTests
{
    private readonly TestTimeProvider _time = new();

    [Fact]
    public async Task The_embedded_store_pages_in_id_order_after_the_cursor_and_filters_by_state()
    {
        var store = new InMemoryTenantStore(_time);
        var ids = Enumerable.Range(0, 25).Select(static i => Id($"t{i:D2}")).ToArray();
        await store.UpsertAsync([.. ids.Reverse().Select(id => Status(id, int.Parse(id.Value[1..], System.Globalization.CultureInfo.InvariantCulture) % 2 == 0 ? TenantState.Connected : TenantState.Error))], default);

        var first = await store.ListPageAsync(new TenantStatusQuery { Limit = 10 }, default);
        Assert.Equal(ids[..10], first.Statuses.Select(static s => s.BusinessId));
        Assert.Equal(ids[9], first.Next);
        var second = await store.ListPageAsync(new TenantStatusQuery { Limit = 10, After = first.Next }, default);
        Assert.Equal(ids[10..20], second.Statuses.Select(static s => s.BusinessId));
        var last = await store.ListPageAsync(new TenantStatusQuery { Limit = 10, After = second.Next }, default);
        Assert.Equal(ids[20..], last.Statuses.Select(static s => s.BusinessId));
        Assert.Null(last.Next);

        var errors = await ReadAllAsync(q => store.ListPageAsync(q, default), new TenantStatusQuery { Limit = 4, State = TenantState.Error });
        Assert.Equal(ids.Where((_, i) => i % 2 == 1), errors.Select(static s => s.BusinessId));

        var between = await store.ListPageAsync(new TenantStatusQuery { Limit = 2, After = Id("t055") }, default); // not a stored id
        Assert.Equal([Id("t06"), Id("t07")], between.Statuses.Select(static s => s.BusinessId));
        var beyond = await store.ListPageAsync(new TenantStatusQuery { After = Id("t24") }, default);
        Assert.Empty(beyond.Statuses);
        Assert.Null(beyond.Next);
        Assert.Empty((await new InMemoryTenantStore(_time).ListPageAsync(new TenantStatusQuery(), default)).Statuses);
    }

    [Fact]
    public async Task An_update_keeps_one_entry_per_tenant_and_the_page_shows_the_latest_status()
    {
        var store = new InMemoryTenantStore(_time);
        await store.UpsertAsync([Status(Id("a"), TenantState.Starting), Status(Id("b"), TenantState.Starting)], default);
        await store.UpsertAsync([Status(Id("a"), TenantState.Connected)], default);

        var page = await store.ListPageAsync(new TenantStatusQuery(), default);
        Assert.Equal([TenantState.Connected, TenantState.Starting], page.Statuses.Select(static s => s.State));
        Assert.Equal(2, (await store.ListAsync(default)).Count);
    }

    [Fact]
    public async Task The_coordinator_pages_its_live_statuses_including_tenants_not_yet_written_to_the_store()
    {
        await using var h = Create();
        h.Factory.AutoConnect = true;
        var ids = Enumerable.Range(0, 30).Select(static i => Id($"c{i:D2}")).ToArray();
        foreach (var id in ids.Reverse())
        {
            await h.Coordinator.StartAsync(id).WithTimeout();
        }

        foreach (var id in ids)
        {
            await h.Statuses.WaitForStateAsync(id, TenantState.Connected);
        }

        // The status writer has not run (the host is not started): every status is the coordinator's own.
        Assert.Empty(await h.Store.ListAsync(default));
        var all = await ReadAllAsync(q => h.Coordinator.ListStatusPageAsync(q), new TenantStatusQuery { Limit = 7 });
        Assert.Equal(ids, all.Select(static s => s.BusinessId));
        Assert.All(all, static s => Assert.Equal(TenantState.Connected, s.State));

        foreach (var id in ids.Take(3))
        {
            await h.Coordinator.StopAsync(id).WithTimeout();
        }

        var connected = await ReadAllAsync(q => h.Coordinator.ListStatusPageAsync(q), new TenantStatusQuery { Limit = 5, State = TenantState.Connected });
        Assert.Equal(ids[3..], connected.Select(static s => s.BusinessId));
        var stopped = await h.Coordinator.ListStatusPageAsync(new TenantStatusQuery { State = TenantState.Stopped });
        Assert.Equal(ids[..3], stopped.Statuses.Select(static s => s.BusinessId));
        Assert.Null(stopped.Next);
    }

    [Fact]
    public async Task The_coordinator_merges_stored_statuses_of_tenants_it_does_not_supervise()
    {
        var store = new InMemoryTenantStore(_time);
        await store.UpsertAsync([Status(Id("b"), TenantState.Error), Status(Id("d"), TenantState.Stopped)], default);
        await using var h = Create(store: store, time: _time);
        h.Factory.AutoConnect = true;
        await h.Coordinator.StartAsync(Id("a")).WithTimeout();
        await h.Coordinator.StartAsync(Id("c")).WithTimeout();
        await h.Statuses.WaitForStateAsync(Id("a"), TenantState.Connected);
        await h.Statuses.WaitForStateAsync(Id("c"), TenantState.Connected);

        var page = await h.Coordinator.ListStatusPageAsync(new TenantStatusQuery { Limit = 3 });
        Assert.Equal([Id("a"), Id("b"), Id("c")], page.Statuses.Select(static s => s.BusinessId));
        Assert.Equal(Id("c"), page.Next);
        var rest = await h.Coordinator.ListStatusPageAsync(new TenantStatusQuery { Limit = 3, After = page.Next });
        Assert.Equal([Id("d")], rest.Statuses.Select(static s => s.BusinessId));
        Assert.Null(rest.Next);
    }

    private static async Task<List<TenantStatus>> ReadAllAsync(Func<TenantStatusQuery, ValueTask<TenantStatusPage>> read, TenantStatusQuery query)
    {
        var all = new List<TenantStatus>();
        for (int pages = 0; pages < 1_000; pages++)
        {
            var page = await read(query);
            Assert.True(page.Statuses.Count <= query.Limit);
            all.AddRange(page.Statuses);
            if (page.Next is not { } next)
            {
                return all;
            }

            query = query with { After = next };
        }

        throw new InvalidOperationException("the pages did not end");
    }

    private TenantStatus Status(TenantId tenant, TenantState state) =>
        new(tenant, state, _time.GetUtcNow(), _time.GetUtcNow(), null, "test-host");
}
