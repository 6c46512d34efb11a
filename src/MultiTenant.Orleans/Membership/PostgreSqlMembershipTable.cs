using System.Globalization;
using Microsoft.Extensions.Options;
using MultiTenant.PostgreSql.Fleet;
using Npgsql;
using NpgsqlTypes;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;

namespace MultiTenant.Orleans.Membership;

/// <summary>
/// Orleans' cluster membership (<see cref="IMembershipTable"/>) on the fleet's PostgreSQL database, in the tables of the migration *_orleans_membership.sql (MultiTenant.PostgreSql)
/// (<c>orleans_clusters</c>, <c>orleans_silos</c>), over the fleet's coordination pool. Every change is one statement: it locks the
/// cluster's version row, checks the version etag (and, for an update, the row's etag) the caller read, writes the row and advances the
/// etags, so concurrent writers of one version conflict and exactly one wins (Orleans reads again and retries). A read is one statement
/// too, so the version and the rows come from one snapshot.
/// </summary>
internal sealed class PostgreSqlMembershipTable : IMembershipTable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly MembershipStatements _sql;
    private readonly string _clusterId;

    public PostgreSqlMembershipTable(FleetLeases leases, IOptions<ClusterOptions> cluster)
    {
        ArgumentNullException.ThrowIfNull(leases);
        ArgumentNullException.ThrowIfNull(cluster);
        _dataSource = leases.CoordinationDataSource;
        _sql = new MembershipStatements(leases.Schema);
        _clusterId = cluster.Value.ClusterId;
    }

    public async Task InitializeMembershipTable(bool tryInitTableVersion)
    {
        if (!tryInitTableVersion)
        {
            return;
        }

        await using var command = _dataSource.CreateCommand(_sql.InitCluster);
        command.Parameters.Add(Text(_clusterId));
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    public async Task DeleteMembershipTableEntries(string clusterId)
    {
        await using var command = _dataSource.CreateCommand(_sql.DeleteCluster);
        command.Parameters.Add(Text(clusterId));
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    public async Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate)
    {
        await using var command = _dataSource.CreateCommand(_sql.CleanupDefunct);
        command.Parameters.Add(Text(_clusterId));
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = beforeDate.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)SiloStatus.Active });
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    public Task<MembershipTableData> ReadRow(SiloAddress key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return ReadAsync(key.ToParsableString());
    }

    public Task<MembershipTableData> ReadAll() => ReadAsync(null);

    public async Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);
        await using var command = _dataSource.CreateCommand(_sql.Insert);
        AddVersion(command, tableVersion);
        AddEntry(command, entry);
        return await command.ExecuteScalarAsync().ConfigureAwait(false) is not null;
    }

    public async Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(tableVersion);
        if (!long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out long rowEtag))
        {
            return false;
        }

        await using var command = _dataSource.CreateCommand(_sql.Update);
        AddVersion(command, tableVersion);
        AddEntry(command, entry);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = rowEtag });
        return await command.ExecuteScalarAsync().ConfigureAwait(false) is not null;
    }

    public async Task UpdateIAmAlive(MembershipEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await using var command = _dataSource.CreateCommand(_sql.IAmAlive);
        command.Parameters.Add(Text(_clusterId));
        command.Parameters.Add(Text(entry.SiloAddress.ToParsableString()));
        command.Parameters.Add(Time(entry.IAmAliveTime));
        if (await command.ExecuteNonQueryAsync().ConfigureAwait(false) == 0)
        {
            throw new OrleansException($"No membership row for silo {entry.SiloAddress} in cluster '{_clusterId}'.");
        }
    }

    private async Task<MembershipTableData> ReadAsync(string? address)
    {
        await using var command = _dataSource.CreateCommand(_sql.Read);
        command.Parameters.Add(Text(_clusterId));
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)address ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
        var rows = new List<Tuple<MembershipEntry, string>>();
        TableVersion? version = null;
        while (await reader.ReadAsync().ConfigureAwait(false))
        {
            version ??= new TableVersion(reader.GetInt32(0), reader.GetInt64(1).ToString(CultureInfo.InvariantCulture));
            if (!reader.IsDBNull(2))
            {
                rows.Add(Tuple.Create(ReadEntry(reader), reader.GetInt64(14).ToString(CultureInfo.InvariantCulture)));
            }
        }

        // No version row: the cluster was never initialised (or was deleted); Orleans then inserts version 0's successor.
        version ??= new TableVersion(0, "0");
        return new MembershipTableData(rows, version);
    }

    private static MembershipEntry ReadEntry(NpgsqlDataReader reader)
    {
        var entry = new MembershipEntry
        {
            SiloAddress = SiloAddress.FromParsableString(reader.GetString(2)),
            Status = (SiloStatus)reader.GetInt32(3),
            ProxyPort = reader.GetInt32(4),
            HostName = reader.GetString(5),
            SiloName = reader.GetString(6),
            RoleName = reader.IsDBNull(7) ? null : reader.GetString(7),
            UpdateZone = reader.GetInt32(8),
            FaultZone = reader.GetInt32(9),
            StartTime = reader.GetFieldValue<DateTime>(10),
            IAmAliveTime = reader.GetFieldValue<DateTime>(11),
        };

        var suspects = reader.GetFieldValue<string[]>(12);
        var times = reader.GetFieldValue<DateTime[]>(13);
        if (suspects.Length > 0)
        {
            entry.SuspectTimes = new List<Tuple<SiloAddress, DateTime>>(suspects.Length);
            for (int i = 0; i < suspects.Length && i < times.Length; i++)
            {
                entry.SuspectTimes.Add(Tuple.Create(SiloAddress.FromParsableString(suspects[i]), times[i]));
            }
        }

        return entry;
    }

    private void AddVersion(NpgsqlCommand command, TableVersion version)
    {
        command.Parameters.Add(Text(_clusterId));
        long expected = long.TryParse(version.VersionEtag, NumberStyles.None, CultureInfo.InvariantCulture, out long etag) ? etag : -1;
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = expected });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = version.Version });
    }

    private static void AddEntry(NpgsqlCommand command, MembershipEntry entry)
    {
        command.Parameters.Add(Text(entry.SiloAddress.ToParsableString()));
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)entry.Status });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = entry.ProxyPort });
        command.Parameters.Add(Text(entry.HostName ?? string.Empty));
        command.Parameters.Add(Text(entry.SiloName ?? string.Empty));
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)entry.RoleName ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = entry.UpdateZone });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = entry.FaultZone });
        command.Parameters.Add(Time(entry.StartTime));
        command.Parameters.Add(Time(entry.IAmAliveTime));
        var votes = entry.SuspectTimes ?? [];
        var suspects = new string[votes.Count];
        var times = new DateTime[votes.Count];
        for (int i = 0; i < votes.Count; i++)
        {
            suspects[i] = votes[i].Item1.ToParsableString();
            times[i] = AsUtc(votes[i].Item2);
        }

        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = suspects, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = times, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
    }

    private static NpgsqlParameter<string> Text(string value) => new() { TypedValue = value };

    private static NpgsqlParameter<DateTime> Time(DateTime value) => new() { TypedValue = AsUtc(value), NpgsqlDbType = NpgsqlDbType.TimestampTz };

    // Orleans' times are UTC; an unspecified kind is taken as UTC (timestamptz accepts only UTC values).
    private static DateTime AsUtc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Utc => value,
        DateTimeKind.Local => value.ToUniversalTime(),
        _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
    };
}
