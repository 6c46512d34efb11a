namespace MultiTenant.Orleans.Membership;

/// <summary>
/// The SQL of <see cref="PostgreSqlMembershipTable"/>, schema-qualified once (the schema is the store's validated name, quoted here).
/// Every value is a parameter.
/// </summary>
internal sealed class MembershipStatements
{
    // The row's columns in the order AddEntry binds them ($4..$15).
    private const string Columns =
        "address, status, proxy_port, host_name, silo_name, role_name, update_zone, fault_zone, start_time, i_am_alive_time, suspect_silos, suspect_times";

    public MembershipStatements(string schema)
    {
        string s = "\"" + schema.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

        InitCluster = $"INSERT INTO {s}.orleans_clusters (cluster_id) VALUES ($1) ON CONFLICT (cluster_id) DO NOTHING";
        DeleteCluster = $"DELETE FROM {s}.orleans_clusters WHERE cluster_id = $1";

        // $1 cluster, $2 before, $3 the Active status: rows of silos that are not active and were last heard of before $2.
        CleanupDefunct = $"""
            DELETE FROM {s}.orleans_silos WHERE cluster_id = $1 AND status <> $3 AND greatest(start_time, i_am_alive_time) < $2
            """;

        // $1 cluster, $2 one silo's address or null for all. The version row and the silo rows in one snapshot; a cluster without
        // silos reads as one row with null silo columns.
        Read = $"""
            SELECT c.version, c.etag, s.{Columns.Replace(", ", ", s.", StringComparison.Ordinal)}, s.etag
            FROM {s}.orleans_clusters c
            LEFT JOIN {s}.orleans_silos s ON s.cluster_id = c.cluster_id AND ($2::text IS NULL OR s.address = $2)
            WHERE c.cluster_id = $1
            """;

        // $1 cluster, $2 the version etag the caller read, $3 the new version. Locks the version row and yields it only while its etag
        // is still $2: a concurrent change of the same version waits, then finds the etag advanced and changes nothing.
        string version = $"SELECT cluster_id FROM {s}.orleans_clusters WHERE cluster_id = $1 AND etag = $2 FOR UPDATE";
        string advance = $"UPDATE {s}.orleans_clusters SET version = $3, etag = etag + 1 WHERE cluster_id = $1";

        // Insert: $4..$15 the row. No row returned: the version moved on or the silo is already in the table.
        Insert = $"""
            WITH v AS ({version}),
                 ins AS (
                     INSERT INTO {s}.orleans_silos (cluster_id, {Columns})
                     SELECT v.cluster_id, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM v
                     ON CONFLICT (cluster_id, address) DO NOTHING
                     RETURNING 1)
            {advance} AND EXISTS (SELECT 1 FROM ins) RETURNING 1
            """;

        // Update: $4..$15 the row, $16 the row's etag the caller read. No row returned: the version or the row moved on.
        Update = $"""
            WITH v AS ({version}),
                 upd AS (
                     UPDATE {s}.orleans_silos SET status = $5, proxy_port = $6, host_name = $7, silo_name = $8, role_name = $9,
                         update_zone = $10, fault_zone = $11, start_time = $12, i_am_alive_time = $13, suspect_silos = $14,
                         suspect_times = $15, etag = etag + 1
                     WHERE cluster_id = $1 AND address = $4 AND etag = $16 AND EXISTS (SELECT 1 FROM v)
                     RETURNING 1)
            {advance} AND EXISTS (SELECT 1 FROM upd) RETURNING 1
            """;

        // $1 cluster, $2 address, $3 time. Neither etag moves: liveness is not a membership change.
        IAmAlive = $"UPDATE {s}.orleans_silos SET i_am_alive_time = $3 WHERE cluster_id = $1 AND address = $2";
    }

    public string InitCluster { get; }

    public string DeleteCluster { get; }

    public string CleanupDefunct { get; }

    public string Read { get; }

    public string Insert { get; }

    public string Update { get; }

    public string IAmAlive { get; }
}
