using MultiTenant.Storage;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// Fleet mode's client state stores: each is bound to its tenant and to the epoch of the lease under which the tenant's run started, and
/// every write is refused (<see cref="TenantLeaseLostException"/>) unless this host instance still holds that lease. Reads are not fenced.
/// </summary>
internal sealed class FencedStateStoreProvider(PostgreSqlTenantStore store, ILeaseFence member) : ITenantRunStateStoreProvider
{
    public ITenantStateStore GetRunStore(TenantId tenant, long ownershipEpoch) =>
        new FencedTenantStateStore(store, member, tenant, ownershipEpoch);
}

/// <summary>One tenant's client state under one lease epoch. See <see cref="FencedStateStoreProvider"/>.</summary>
internal sealed class FencedTenantStateStore(PostgreSqlTenantStore store, ILeaseFence member, TenantId tenant, long epoch) : ITenantStateStore
{
    private readonly ITenantStateStore _reads = store.GetStore(tenant);

    public TenantId Tenant => tenant;

    /// <summary>The epoch every write carries.</summary>
    public long Epoch => epoch;

    public ValueTask<byte[]?> GetAsync(string @namespace, string key, CancellationToken cancellationToken = default) =>
        _reads.GetAsync(@namespace, key, cancellationToken);

    public ValueTask<IReadOnlyList<string>> ListKeysAsync(string @namespace, CancellationToken cancellationToken = default) =>
        _reads.ListKeysAsync(@namespace, cancellationToken);

    public async ValueTask SetAsync(string @namespace, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        InvalidStateKeyException.ThrowIfInvalid(@namespace, "namespace");
        InvalidStateKeyException.ThrowIfInvalid(key, "key");
        await using var batch = CreateScopedBatch(member.Sql.SetStateFenced, out var command);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = @namespace });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        command.Parameters.Add(new NpgsqlParameter<ReadOnlyMemory<byte>> { TypedValue = value, NpgsqlDbType = NpgsqlDbType.Bytea });
        AddFence(command);
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (command.RecordsAffected == 0)
        {
            throw Refused();
        }
    }

    public async ValueTask<bool> DeleteAsync(string @namespace, string key, CancellationToken cancellationToken = default)
    {
        InvalidStateKeyException.ThrowIfInvalid(@namespace, "namespace");
        InvalidStateKeyException.ThrowIfInvalid(key, "key");
        await using var batch = CreateScopedBatch(member.Sql.DeleteStateFenced, out var command);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = @namespace });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        AddFence(command);
        return await RunFencedDeleteAsync(batch, cancellationToken).ConfigureAwait(false) > 0;
    }

    public async ValueTask<int> ClearAsync(CancellationToken cancellationToken = default)
    {
        await using var batch = CreateScopedBatch(member.Sql.ClearStateFenced, out var command);
        AddFence(command);
        return (int)await RunFencedDeleteAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    private async Task<long> RunFencedDeleteAsync(NpgsqlBatch batch, CancellationToken cancellationToken)
    {
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past set_config
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (reader.GetInt64(0) == 0)
        {
            throw Refused();
        }

        return reader.GetInt64(1);
    }

    private TenantLeaseLostException Refused()
    {
        member.OnWriteRefused(tenant, epoch);
        return new TenantLeaseLostException(tenant, epoch);
    }

    private void AddFence(NpgsqlBatchCommand command)
    {
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = member.InstanceId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = epoch });
    }

    private NpgsqlBatch CreateScopedBatch(string sql, out NpgsqlBatchCommand command) => store.CreateTenantScopedBatch(tenant, sql, out command);
}

/// <summary>
/// Fleet mode's status store: reads are the fleet view (a running state that no live host holds the lease of reads as disconnected,
/// <see cref="FleetStatements.OwnerHostLostError"/>); writes carry the epoch of this host's lease of each
/// tenant and are dropped for tenants whose lease this host does not hold (a stale host never overwrites the owner's status).
/// </summary>
internal sealed class FencedStatusStore(PostgreSqlTenantStore store, ILeaseFence member) : ITenantStatusStore
{
    public async ValueTask<TenantStatus?> GetAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        await using var command = CreateViewCommand(member.Sql.GetStatusFleetView);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? store.ReadStatus(reader) : null;
    }

    public async ValueTask<IReadOnlyList<TenantStatus>> ListAsync(CancellationToken cancellationToken)
    {
        await using var command = CreateViewCommand(member.Sql.ListStatusesFleetView);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var statuses = new List<TenantStatus>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (store.ReadStatus(reader) is { } status)
            {
                statuses.Add(status);
            }
        }

        return statuses;
    }

    private NpgsqlCommand CreateViewCommand(string sql)
    {
        var command = store.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = member.Options.DeadAfter });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = FleetStatements.OwnerHostLostError });
        return command;
    }

    public ValueTask UpsertAsync(IReadOnlyCollection<TenantStatus> statuses, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(statuses);
        var fenced = new List<(TenantStatus Status, long Epoch)>(statuses.Count);
        foreach (var status in statuses)
        {
            if (member.GetEpoch(status.BusinessId) is { } epoch)
            {
                fenced.Add((status, epoch));
            }
        }

        return fenced.Count == 0 ? ValueTask.CompletedTask : new ValueTask(member.WriteStatusesAsync(fenced, cancellationToken));
    }
}
