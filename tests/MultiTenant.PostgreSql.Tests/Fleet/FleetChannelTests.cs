using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>The notification channel alone, on a real PostgreSQL: payloads arrive, and a dropped LISTEN connection is replaced.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class FleetChannelTests(PostgreSqlFixture fixture)
{
    [Fact]
    public async Task Notifications_reach_the_listener_and_it_listens_again_after_its_connection_was_terminated()
    {
        string database = await fixture.GetDatabaseAsync(nameof(FleetChannelTests));
        string application = "channel-" + Guid.NewGuid().ToString("N")[..8];
        await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(database) { ApplicationName = application }.ConnectionString);
        var received = new ConcurrentQueue<string>();
        int listening = 0;
        var sql = new FleetStatements(PostgreSqlTestStore.NewSchema());
        var channel = new FleetChannel(
            dataSource, sql, TimeProvider.System, NullLogger.Instance, received.Enqueue, () => Interlocked.Increment(ref listening));
        using var stop = new CancellationTokenSource();
        var running = channel.RunAsync(stop.Token);

        await Eventually.UntilAsync(() => Task.FromResult(Volatile.Read(ref listening)), n => n == 1, "the channel listens");
        await channel.NotifyAsync("first", CancellationToken.None);
        await Eventually.UntilAsync(() => Task.FromResult(received.ToArray()), r => r.SequenceEqual(["first"]), "the first payload arrives");

        // A notification in a batch is sent when the batch commits.
        await using (var batch = dataSource.CreateBatch())
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT 1"));
            batch.BatchCommands.Add(channel.Notify("in-batch"));
            await batch.ExecuteNonQueryAsync();
        }

        await Eventually.UntilAsync(() => Task.FromResult(received.ToArray()), r => r.Contains("in-batch"), "the batched payload arrives");

        // The server drops the LISTEN connection: the channel reconnects, says it listens again, and receives what is sent next.
        await using (var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Pooling = false }.ConnectionString))
        {
            await admin.OpenAsync();
            await using var kill = new NpgsqlCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'", admin);
            kill.Parameters.Add(new NpgsqlParameter<string> { TypedValue = application });
            Assert.Equal(1L, await kill.ExecuteScalarAsync());
        }

        await Eventually.UntilAsync(() => Task.FromResult(Volatile.Read(ref listening)), n => n == 2, "the channel listens again");
        await channel.NotifyAsync("after", CancellationToken.None);
        await Eventually.UntilAsync(() => Task.FromResult(received.ToArray()), r => r.Contains("after"), "the payload sent after the reconnect arrives");

        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(sql.Channel, channel.Name);
    }
}
