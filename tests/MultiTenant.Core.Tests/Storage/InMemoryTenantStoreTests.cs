using MultiTenant.Storage;
using MultiTenant.Tests.Infrastructure;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Storage;

public sealed class InMemoryTenantStoreTests
{
    private readonly InMemoryTenantStore _store = new(new TestTimeProvider());

    [Fact]
    public async Task Each_tenants_state_store_sees_only_its_own_values()
    {
        var a = _store.GetStore(Id("a"));
        var b = _store.GetStore(Id("b"));

        await a.SetAsync("device", "id", new byte[] { 1, 2, 3 });
        await b.SetAsync("device", "id", new byte[] { 9 });

        Assert.Equal(new byte[] { 1, 2, 3 }, await a.GetAsync("device", "id"));
        Assert.Equal(new byte[] { 9 }, await b.GetAsync("device", "id"));
        Assert.Equal(1, await a.ClearAsync());
        Assert.Null(await a.GetAsync("device", "id"));
        Assert.Equal(new byte[] { 9 }, await b.GetAsync("device", "id"));
        Assert.Equal(new byte[] { 9 }, await _store.GetStore(Id("b")).GetAsync("device", "id")); // another view, the same values
        Assert.Equal(Id("b"), b.Tenant);
    }

    [Fact]
    public async Task Reading_the_state_of_unknown_tenants_keeps_nothing_in_memory()
    {
        for (int i = 0; i < 1_000; i++)
        {
            var state = _store.GetStore(Id("unknown" + i));
            Assert.Null(await state.GetAsync("cloudapi", "credentials"));
            Assert.Empty(await state.ListKeysAsync("cloudapi"));
            Assert.False(await state.DeleteAsync("cloudapi", "credentials"));
            Assert.Equal(0, await state.ClearAsync());
        }

        Assert.Equal(0, _store.TenantsWithState);
        await _store.GetStore(Id("known")).SetAsync("cloudapi", "credentials", new byte[] { 1 });
        Assert.Equal(1, _store.TenantsWithState);
    }

    [Fact]
    public async Task Stored_values_are_copies()
    {
        var state = _store.GetStore(Id("a"));
        var value = new byte[] { 1 };
        await state.SetAsync("ns", "k", value);
        value[0] = 2;

        var read = await state.GetAsync("ns", "k");
        read![0] = 3;

        Assert.Equal(new byte[] { 1 }, await state.GetAsync("ns", "k"));
    }

    [Fact]
    public async Task Keys_list_per_namespace_in_ordinal_order_and_delete_reports_existence()
    {
        var state = _store.GetStore(Id("a"));
        await state.SetAsync("sessions", "b", new byte[] { 1 });
        await state.SetAsync("sessions", "B", new byte[] { 1 });
        await state.SetAsync("sessions", "a", new byte[] { 1 });
        await state.SetAsync("keys", "z", new byte[] { 1 });

        Assert.Equal(["B", "a", "b"], await state.ListKeysAsync("sessions"));
        Assert.True(await state.DeleteAsync("sessions", "a"));
        Assert.False(await state.DeleteAsync("sessions", "a"));
        Assert.Equal(["z"], await state.ListKeysAsync("keys"));
    }

    [Theory]
    [InlineData("", "k")]
    [InlineData("ns", "")]
    [InlineData("ns\n", "k")]
    [InlineData("ns", "k\0")]
    public async Task Invalid_namespaces_and_keys_are_rejected(string @namespace, string key)
    {
        var state = _store.GetStore(Id("a"));

        await Assert.ThrowsAsync<InvalidStateKeyException>(() => state.SetAsync(@namespace, key, new byte[] { 1 }).AsTask());
        await Assert.ThrowsAsync<InvalidStateKeyException>(() => state.GetAsync(@namespace, key).AsTask());
    }

    [Fact]
    public async Task A_256_character_key_is_rejected_and_255_accepted()
    {
        var state = _store.GetStore(Id("a"));

        await state.SetAsync("ns", new string('k', 255), new byte[] { 1 });
        await Assert.ThrowsAsync<InvalidStateKeyException>(() => state.SetAsync("ns", new string('k', 256), new byte[] { 1 }).AsTask());
    }

    [Fact]
    public async Task The_registry_lists_the_desired_running_tenants_in_ordinal_order()
    {
        await _store.SetDesiredStateAsync(Id("b"), running: true, CancellationToken.None);
        await _store.SetDesiredStateAsync(Id("a"), running: true, CancellationToken.None);
        await _store.SetDesiredStateAsync(Id("C"), running: true, CancellationToken.None);
        await _store.SetDesiredStateAsync(Id("a"), running: false, CancellationToken.None);

        Assert.Equal([Id("C"), Id("b")], await _store.ListDesiredRunningAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Statuses_are_kept_per_tenant_latest_wins()
    {
        var now = DateTimeOffset.UnixEpoch;
        await _store.UpsertAsync(
            [new TenantStatus(Id("b"), TenantState.Starting, now, now, null, "h"), new TenantStatus(Id("a"), TenantState.Error, now, now, "x", "h")],
            CancellationToken.None);
        await _store.UpsertAsync([new TenantStatus(Id("b"), TenantState.Connected, now, now, null, "h")], CancellationToken.None);

        Assert.Equal(TenantState.Connected, (await _store.GetAsync(Id("b"), CancellationToken.None))!.State);
        Assert.Equal(["a", "b"], (await _store.ListAsync(CancellationToken.None)).Select(static s => s.BusinessId.Value));
        Assert.Null(await _store.GetAsync(Id("c"), CancellationToken.None));
    }

    [Fact]
    public async Task Default_tenant_ids_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => _store.GetStore(default));
        await Assert.ThrowsAsync<ArgumentException>(() => _store.SetDesiredStateAsync(default, true, CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task A_purged_tenant_leaves_the_list_and_its_pages()
    {
        // Found by the API fuzz test: the page index kept a purged id and the next list threw KeyNotFoundException (a 500).
        var now = DateTimeOffset.UnixEpoch;
        await _store.UpsertAsync(
            [new TenantStatus(Id("a"), TenantState.Stopped, now, now, null, "h"), new TenantStatus(Id("b"), TenantState.Stopped, now, now, null, "h")],
            CancellationToken.None);

        await _store.PurgeAsync(Id("a"));

        Assert.Equal([Id("b")], (await _store.ListAsync(CancellationToken.None)).Select(static s => s.BusinessId));
        var page = await ((ITenantStatusStore)_store).ListPageAsync(new TenantStatusQuery { Limit = 10 }, CancellationToken.None);
        Assert.Equal([Id("b")], page.Statuses.Select(static s => s.BusinessId));
        Assert.Null(page.Next);
    }
}
