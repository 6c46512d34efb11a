using Npgsql;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// The fleet's start and stop requests, shared by its placements: a start records the tenant as desired-running (a new start
/// generation) unless it already is and is not in error; a stop records it desired-stopped and gives a tenant that never ran a stopped
/// status row, so it is still listed.
/// </summary>
internal static class DesiredStateRequests
{
    /// <summary>Records a start request; <paramref name="notify"/>, when given, is sent in the same round trip.</summary>
    /// <exception cref="TenantAlreadyRunningException">The tenant is desired-running already (and not in error).</exception>
    public static async Task RecordStartAsync(
        PostgreSqlTenantStore store, FleetStatements sql, TenantId tenant, NpgsqlBatchCommand? notify, CancellationToken cancellationToken)
    {
        await using var batch = store.DataSource.CreateBatch();
        batch.Timeout = store.CommandTimeoutSeconds;
        var start = new NpgsqlBatchCommand(sql.RequestStart);
        start.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        batch.BatchCommands.Add(start);
        if (notify is not null)
        {
            batch.BatchCommands.Add(notify);
        }

        bool accepted;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            accepted = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!accepted)
        {
            await using var owner = store.CreateCommand(sql.CurrentOwner);
            owner.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
            string? host = await owner.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
            throw new TenantAlreadyRunningException(tenant, host);
        }
    }

    /// <summary>
    /// Records a stop request; <paramref name="notify"/>, when given, is sent in the same round trip. Returns the status to answer with
    /// (stopped, with the stored start time).
    /// </summary>
    /// <exception cref="TenantNotFoundException">The tenant is not known.</exception>
    public static async Task<TenantStatus> RecordStopAsync(
        PostgreSqlTenantStore store, FleetStatements sql, TenantId tenant, NpgsqlBatchCommand? notify, TimeProvider time,
        CancellationToken cancellationToken)
    {
        await using var batch = store.DataSource.CreateBatch();
        batch.Timeout = store.CommandTimeoutSeconds;
        var stop = new NpgsqlBatchCommand(sql.RequestStop);
        stop.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        batch.BatchCommands.Add(stop);
        var status = new NpgsqlBatchCommand(sql.StatusOnStop);
        status.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        batch.BatchCommands.Add(status);
        if (notify is not null)
        {
            batch.BatchCommands.Add(notify);
        }

        bool known;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            known = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!known)
        {
            throw new TenantNotFoundException(tenant);
        }

        var stored = await store.GetAsync(tenant, cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        return stored is null
            ? new TenantStatus(tenant, TenantState.Stopped, null, now, null, null)
            : stored with { State = TenantState.Stopped, UpdatedAt = now, Error = null };
    }
}
