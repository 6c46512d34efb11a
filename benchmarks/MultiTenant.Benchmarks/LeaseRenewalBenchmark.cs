using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.PostgreSql;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;

namespace MultiTenant.Benchmarks;

/// <summary>
/// Scenario 4b, control plane: one host renews its <see cref="Leases"/> leases on a real PostgreSQL server (a throwaway one on
/// loopback, provisioned like the PostgreSQL tests do). The operation is one renewal of all of them.
/// </summary>
/// <remarks>
/// <para>Ours: the fleet's renewal, <see cref="FleetStatements.Renew"/>, one statement for all of the host's leases, with its rows
/// read into a map as <c>FleetMember</c> does.</para>
/// <para>Baseline: one statement per lease, what a per-tenant renewal loop sends, here pipelined in one <see cref="NpgsqlBatch"/> (one
/// round trip) so that it measures the database's work and not 10,000 loopback round trips: sent one by one on one connection they
/// took 4.2 s here.</para>
/// </remarks>
[BenchmarkCategory("4-control-plane")]
public class LeaseRenewalBenchmark
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    private readonly Guid _instance = Guid.NewGuid();
    private ThrowawayPostgreSqlServer? _server;
    private NpgsqlDataSource? _dataSource;
    private FleetStatements _sql = null!;
    private string[] _tenants = [];
    private string _renewOne = string.Empty;

    [Params(10_000)]
    public int Leases { get; set; }

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    [Benchmark(Baseline = true)]
    public async Task<int> One_statement_per_lease()
    {
        await using var connection = await _dataSource!.OpenConnectionAsync();
        await using var batch = new NpgsqlBatch(connection);
        foreach (var tenant in _tenants)
        {
            var command = new NpgsqlBatchCommand(_renewOne);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = _instance });
            command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = Ttl });
            batch.BatchCommands.Add(command);
        }

        int renewed = 0;
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            do
            {
                while (await reader.ReadAsync())
                {
                    renewed++;
                }
            }
            while (await reader.NextResultAsync());
        }

        return Check(renewed);
    }

    [Benchmark]
    public async Task<int> One_statement_per_host()
    {
        var returned = new Dictionary<TenantId, long>(Leases);
        await using (var command = _dataSource!.CreateCommand(_sql.Renew))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = _instance });
            command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = Ttl });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                if (TenantId.TryParse(reader.GetString(0), out var tenant))
                {
                    returned[tenant] = reader.GetInt64(1);
                }
            }
        }

        return Check(returned.Count);
    }

    private int Check(int renewed) =>
        renewed == Leases ? renewed : throw new InvalidOperationException($"{renewed} of {Leases} leases were renewed.");

    private async Task SetupAsync()
    {
        _server = await ThrowawayPostgreSqlServer.StartNewAsync();
        _dataSource = NpgsqlDataSource.Create(_server.ConnectionString);
        var options = new PostgreSqlStoreOptions();
        await PostgreSqlMigrator.MigrateAsync(_dataSource, options, NullLogger.Instance, CancellationToken.None);
        _sql = new FleetStatements(options.Schema);
        string schema = PostgreSqlMigrator.QuoteIdentifier(options.Schema);
        _renewOne = $"""
            UPDATE {schema}.leases SET expires_at = now() + $3::interval
            WHERE business_id = $1 AND instance_id = $2 AND expires_at > now()
            RETURNING epoch
            """;

        // Leases held by this host instance for an hour, so every renewal in the run finds them all alive.
        _tenants = Infrastructure.Tenants.Create(Leases).Select(static t => t.Value).ToArray();
        await using var insert = _dataSource.CreateCommand($"""
            INSERT INTO {schema}.leases (business_id, owner, instance_id, epoch, acquired_at, expires_at)
            SELECT b, 'bench', $2, 1, now(), now() + interval '1 hour' FROM unnest($1::text[]) AS b
            """);
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = _tenants });
        insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = _instance });
        await insert.ExecuteNonQueryAsync();
        await using var analyze = _dataSource.CreateCommand($"ANALYZE {schema}.leases");
        await analyze.ExecuteNonQueryAsync();
    }

    private async Task CleanupAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
