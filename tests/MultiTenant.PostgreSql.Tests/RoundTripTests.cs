using System.Diagnostics.Metrics;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.PostgreSql.Tests;

/// <summary>
/// Counts the statements the store sends, from Npgsql's own metrics (<c>db.client.operation.duration</c>, one measurement per command
/// or batch executed), for this test's data source only.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class RoundTripTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private readonly string _name = "roundtrips-" + Guid.NewGuid().ToString("N")[..8];
    private PostgreSqlTestStore _store = null!;

    public async Task InitializeAsync()
    {
        string database = await fixture.GetDatabaseAsync(nameof(RoundTripTests));
        _store = PostgreSqlTestStore.Open(database, PostgreSqlTestStore.NewSchema(), name: _name);
        await _store.Store.MigrateAsync();
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task Upserting_a_thousand_statuses_is_one_round_trip()
    {
        var now = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var statuses = Enumerable.Range(0, 1000)
            .Select(i => new TenantStatus(TenantId.Parse("t" + i), TenantState.Connected, now, now, null, "host-a"))
            .ToList();

        int operations = await CountOperationsAsync(() => _store.Store.UpsertAsync(statuses, CancellationToken.None).AsTask());

        Assert.Equal(1, operations);
        Assert.Equal(1000, (await _store.Store.ListAsync(CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Each_state_store_call_is_one_round_trip()
    {
        var state = _store.Store.GetStore(TenantId.Parse("t1"));

        Assert.Equal(1, await CountOperationsAsync(() => state.SetAsync("device", "id", new byte[] { 1 }).AsTask()));
        Assert.Equal(1, await CountOperationsAsync(() => state.GetAsync("device", "id").AsTask()));
        Assert.Equal(1, await CountOperationsAsync(() => state.ListKeysAsync("device").AsTask()));
        Assert.Equal(1, await CountOperationsAsync(() => state.DeleteAsync("device", "id").AsTask()));
        Assert.Equal(1, await CountOperationsAsync(() => state.ClearAsync().AsTask()));
    }

    private async Task<int> CountOperationsAsync(Func<Task> action)
    {
        int count = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Npgsql" && instrument.Name == "db.client.operation.duration")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "db.client.connection.pool.name" && (string?)tag.Value == _name)
                {
                    Interlocked.Increment(ref count);
                }
            }
        });
        listener.Start();
        await action();
        return Volatile.Read(ref count);
    }
}
