using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MultiTenant.Orleans.Membership;
using MultiTenant.PostgreSql;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;

namespace MultiTenant.Orleans.Tests;

/// <summary>Orleans' membership contract on our PostgreSQL tables (the migration *_orleans_membership.sql of MultiTenant.PostgreSql), against a real server.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgreSqlMembershipTableTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private ServiceProvider _services = null!;

    public async Task InitializeAsync()
    {
        string database = await fixture.CreateDatabaseAsync(nameof(PostgreSqlMembershipTableTests));
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddWhatsAppTenants().UsePostgreSql(database).UseFleetLeases();
        _services = services.BuildServiceProvider();
        await _services.GetRequiredService<PostgreSqlTenantStore>().MigrateAsync();
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public async Task An_inserted_silo_reads_back_with_every_field_and_the_version_advances()
    {
        var table = await CreateTableAsync("c1");
        var empty = await table.ReadAll();
        Assert.Empty(empty.Members);
        Assert.Equal(0, empty.Version.Version);

        var entry = Entry(Silo(11111, 1), SiloStatus.Joining);
        entry.AddSuspector(Silo(22222, 2), new DateTime(2026, 12, 4, 1, 2, 3, DateTimeKind.Utc));
        Assert.True(await table.InsertRow(entry, empty.Version.Next()));

        var read = await table.ReadAll();
        var (row, etag) = Assert.Single(read.Members);
        Assert.Equal(1, read.Version.Version);
        Assert.NotEqual(empty.Version.VersionEtag, read.Version.VersionEtag);
        Assert.False(string.IsNullOrEmpty(etag));
        Assert.Equal(entry.SiloAddress, row.SiloAddress);
        Assert.Equal(SiloStatus.Joining, row.Status);
        Assert.Equal(entry.ProxyPort, row.ProxyPort);
        Assert.Equal(entry.HostName, row.HostName);
        Assert.Equal(entry.SiloName, row.SiloName);
        Assert.Equal(entry.StartTime, row.StartTime);
        Assert.Equal(entry.IAmAliveTime, row.IAmAliveTime);
        var vote = Assert.Single(row.SuspectTimes!);
        Assert.Equal(Silo(22222, 2), vote.Item1);
        Assert.Equal(new DateTime(2026, 12, 4, 1, 2, 3, DateTimeKind.Utc), vote.Item2);

        var one = await table.ReadRow(entry.SiloAddress);
        Assert.Equal(entry.SiloAddress, Assert.Single(one.Members).Item1.SiloAddress);
        Assert.Empty((await table.ReadRow(Silo(33333, 3))).Members);
    }

    [Fact]
    public async Task A_write_under_a_stale_version_or_a_duplicate_insert_is_refused_and_changes_nothing()
    {
        var table = await CreateTableAsync("c2");
        var start = await table.ReadAll();
        Assert.True(await table.InsertRow(Entry(Silo(1, 1), SiloStatus.Active), start.Version.Next()));

        // The version read before the insert is stale now.
        Assert.False(await table.InsertRow(Entry(Silo(2, 1), SiloStatus.Active), start.Version.Next()));
        var now = await table.ReadAll();
        Assert.False(await table.InsertRow(Entry(Silo(1, 1), SiloStatus.Active), now.Version.Next()));

        var after = await table.ReadAll();
        Assert.Single(after.Members);
        Assert.Equal(now.Version, after.Version);
    }

    [Fact]
    public async Task Concurrent_changes_of_one_version_let_exactly_one_win()
    {
        var table = await CreateTableAsync("c3");
        var start = await table.ReadAll();
        var results = await Task.WhenAll(Enumerable.Range(1, 8).Select(i => table.InsertRow(Entry(Silo(i, 1), SiloStatus.Active), start.Version.Next())));
        Assert.Equal(1, results.Count(r => r));
        Assert.Single((await table.ReadAll()).Members);
    }

    [Fact]
    public async Task An_update_needs_the_rows_current_etag_and_the_current_version()
    {
        var table = await CreateTableAsync("c4");
        var start = await table.ReadAll();
        var entry = Entry(Silo(1, 1), SiloStatus.Joining);
        Assert.True(await table.InsertRow(entry, start.Version.Next()));
        var read = await table.ReadAll();
        string etag = read.Members[0].Item2;

        entry.Status = SiloStatus.Active;
        Assert.True(await table.UpdateRow(entry, etag, read.Version.Next()));
        var updated = await table.ReadAll();
        Assert.Equal(SiloStatus.Active, updated.Members[0].Item1.Status);
        Assert.NotEqual(etag, updated.Members[0].Item2);

        // The old row etag (with the current version) and the old version (with the current etag) are both refused.
        entry.Status = SiloStatus.Dead;
        Assert.False(await table.UpdateRow(entry, etag, updated.Version.Next()));
        Assert.False(await table.UpdateRow(entry, updated.Members[0].Item2, read.Version.Next()));
        Assert.Equal(SiloStatus.Active, (await table.ReadAll()).Members[0].Item1.Status);
    }

    [Fact]
    public async Task I_am_alive_moves_only_the_time_and_an_unknown_silo_is_an_error()
    {
        var table = await CreateTableAsync("c5");
        var start = await table.ReadAll();
        var entry = Entry(Silo(1, 1), SiloStatus.Active);
        Assert.True(await table.InsertRow(entry, start.Version.Next()));
        var before = await table.ReadAll();

        entry.IAmAliveTime = entry.IAmAliveTime.AddSeconds(5);
        await table.UpdateIAmAlive(entry);
        var after = await table.ReadAll();
        Assert.Equal(entry.IAmAliveTime, after.Members[0].Item1.IAmAliveTime);
        Assert.Equal(before.Version, after.Version);
        Assert.Equal(before.Members[0].Item2, after.Members[0].Item2);

        await Assert.ThrowsAsync<OrleansException>(() => table.UpdateIAmAlive(Entry(Silo(9, 9), SiloStatus.Active)));
    }

    [Fact]
    public async Task Cleanup_removes_only_defunct_silos_and_clusters_are_apart()
    {
        var table = await CreateTableAsync("c6");
        var other = await CreateTableAsync("c6-other");
        var old = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var version = (await table.ReadAll()).Version;
        foreach (var (port, status) in new[] { (1, SiloStatus.Dead), (2, SiloStatus.Active), (3, SiloStatus.Dead) })
        {
            var entry = Entry(Silo(port, 1), status);
            if (port != 3)
            {
                entry.StartTime = entry.IAmAliveTime = old;
            }

            version = version.Next();
            Assert.True(await table.InsertRow(entry, version));
            version = (await table.ReadAll()).Version;
        }

        Assert.True(await other.InsertRow(Entry(Silo(1, 1), SiloStatus.Dead), (await other.ReadAll()).Version.Next()));

        await table.CleanupDefunctSiloEntries(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero));
        var left = (await table.ReadAll()).Members.Select(m => m.Item1.SiloAddress.Endpoint.Port).Order().ToArray();
        Assert.Equal([2, 3], left);
        Assert.Single((await other.ReadAll()).Members);

        await table.DeleteMembershipTableEntries("c6");
        Assert.Empty((await table.ReadAll()).Members);
        Assert.Single((await other.ReadAll()).Members);
    }

    private async Task<PostgreSqlMembershipTable> CreateTableAsync(string clusterId)
    {
        var table = new PostgreSqlMembershipTable(
            _services.GetRequiredService<FleetLeases>(), Options.Create(new ClusterOptions { ClusterId = clusterId, ServiceId = "tests" }));
        await table.InitializeMembershipTable(tryInitTableVersion: true);
        return table;
    }

    private static SiloAddress Silo(int port, int generation) => SiloAddress.New(new IPEndPoint(IPAddress.Loopback, port), generation);

    private static MembershipEntry Entry(SiloAddress silo, SiloStatus status)
    {
        // Whole microseconds: timestamptz keeps microseconds, so a round trip compares equal.
        var now = new DateTime(2026, 12, 4, 1, 0, 0, DateTimeKind.Utc);
        return new MembershipEntry
        {
            SiloAddress = silo, Status = status, ProxyPort = 30000, HostName = "host-" + silo.Endpoint.Port, SiloName = "silo-" + silo.Endpoint.Port,
            StartTime = now, IAmAliveTime = now,
        };
    }
}
