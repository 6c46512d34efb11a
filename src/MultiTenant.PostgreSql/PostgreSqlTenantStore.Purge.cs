using MultiTenant.Storage;
using Npgsql;

namespace MultiTenant.PostgreSql;

public sealed partial class PostgreSqlTenantStore
{
    /// <summary>The tables with rows of one tenant, erased by <see cref="PurgeAsync"/> (its registry row last).</summary>
    internal static readonly string[] PurgedTables =
    [
        "client_state", "tenant_status", "tenant_api_keys", "tenant_idempotency_keys", "inbox", "tenant_addresses", "outbox", "webhook_subscriptions",
        "tenant_labels", "send_relay", "tenants",
    ];

    /// <summary>
    /// Erases every row of <paramref name="tenant"/> in one transaction (<see cref="PurgedTables"/>: client state and credentials,
    /// status, API keys, idempotency keys, inbox and outbox items, addresses, webhook subscription, labels, pending relayed sends, registry row). Idempotent.
    /// The tenant should be stopped first (<c>DELETE /api/tenants/{business_id}?purge=true</c> stops it).
    /// </summary>
    public async ValueTask PurgeAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        string schema = PostgreSqlMigrator.QuoteIdentifier(Schema);
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection, transaction) { Timeout = CommandTimeoutSeconds };

        // First the tenant scope of row-level security (client_state), then one delete per table, each binding $1 to the tenant.
        foreach (string sql in PurgedTables.Select(t => $"DELETE FROM {schema}.{t} WHERE business_id = $1").Prepend(Sql.SetTenantScope))
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}
