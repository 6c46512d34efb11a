using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>Membership alone, on a real PostgreSQL schema: registration under a host id, take-over of a dead instance, supersession, leaving.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class FleetMembershipTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private PostgreSqlTestStore _store = null!;
    private string _schema = null!;

    public async Task InitializeAsync()
    {
        _schema = PostgreSqlTestStore.NewSchema();
        _store = PostgreSqlTestStore.Open(await fixture.GetDatabaseAsync(nameof(FleetMembershipTests)), _schema);
        await _store.Store.MigrateAsync();
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task A_second_instance_takes_the_host_id_over_once_the_first_stopped_heartbeating_and_the_first_then_knows_it_is_superseded()
    {
        int superseded = 0;
        var first = Create(() => Interlocked.Increment(ref superseded), out var firstPaused);
        var second = Create(() => { }, out _);
        using var stop = new CancellationTokenSource();

        await first.RegisterAsync("same", CancellationToken.None);
        var heartbeats = first.RunHeartbeatsAsync(stop.Token);
        Assert.Equal(["same"], await LiveHostsAsync());

        // The first instance stalls (no heartbeats): the second one waits until it counts as dead, then registers.
        firstPaused.Value = true;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await second.RegisterAsync("same", CancellationToken.None);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(500), $"registered after {watch.ElapsedMilliseconds} ms, before the first counted as dead");
        Assert.False(first.Superseded);

        // The first one heartbeats again and finds the host id taken: superseded, once.
        firstPaused.Value = false;
        await Eventually.UntilAsync(() => Task.FromResult(Volatile.Read(ref superseded)), n => n == 1, "the first instance learns it was superseded");
        Assert.True(first.Superseded);

        // Leaving removes the host from the live hosts.
        await second.LeaveAsync();
        Assert.True(second.IsLeaving);
        Assert.Empty(await LiveHostsAsync());
        await stop.CancelAsync();
        await heartbeats;
    }

    private FleetMembership Create(Action onSuperseded, out StrongBox<bool> paused)
    {
        var options = new FleetOptions();
        FleetHarness.FastTimings(options);
        var sql = new FleetStatements(_schema);
        var channel = new FleetChannel(_store.DataSource, sql, TimeProvider.System, NullLogger.Instance, _ => { }, () => { });
        var box = paused = new StrongBox<bool>(false);
        return new FleetMembership(
            _store.DataSource, sql, channel, options, TimeProvider.System, NullLogger.Instance, Guid.NewGuid(), 5, () => box.Value, onSuperseded);
    }

    private async Task<List<string>> LiveHostsAsync()
    {
        await using var command = _store.DataSource.CreateCommand($"SELECT host_id FROM \"{_schema}\".hosts ORDER BY host_id");
        await using var reader = await command.ExecuteReaderAsync();
        var hosts = new List<string>();
        while (await reader.ReadAsync())
        {
            hosts.Add(reader.GetString(0));
        }

        return hosts;
    }

    /// <summary>A mutable flag the membership's pause delegate reads.</summary>
    private sealed class StrongBox<T>(T value)
    {
        public T Value { get; set; } = value;
    }
}
