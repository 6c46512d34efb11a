using MultiTenant.Storage;
using Npgsql;

namespace MultiTenant.PostgreSql;

/// <summary>
/// One tenant's client state on PostgreSQL. Each call is one round trip: a batch that first scopes its implicit transaction to the
/// bound tenant (<c>set_config('multitenant.business_id', …, true)</c>, checked by the optional row-level security policy) and then runs
/// one parameterised statement whose <c>business_id</c> is the bound tenant. Namespaces and keys are only ever parameter values.
/// </summary>
/// <remarks>
/// Writes go through <see cref="ExecuteAsync"/>: the one place where a fleet adds the fencing check of the tenant's epoch.
/// </remarks>
internal sealed class PostgreSqlTenantStateStore(PostgreSqlTenantStore owner, TenantId tenant) : ITenantStateStore
{
    public TenantId Tenant => tenant;

    public async ValueTask<byte[]?> GetAsync(string @namespace, string key, CancellationToken cancellationToken = default)
    {
        Validate(@namespace, key);
        await using var batch = CreateScopedBatch(owner.Sql.GetState, out var command);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = @namespace });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past set_config
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? reader.GetFieldValue<byte[]>(0) : null;
    }

    public async ValueTask SetAsync(string @namespace, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        Validate(@namespace, key);
        await using var batch = CreateScopedBatch(owner.Sql.SetState, out var command);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = @namespace });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        command.Parameters.Add(new NpgsqlParameter<ReadOnlyMemory<byte>> { TypedValue = value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bytea });
        await ExecuteAsync(batch, command, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> DeleteAsync(string @namespace, string key, CancellationToken cancellationToken = default)
    {
        Validate(@namespace, key);
        await using var batch = CreateScopedBatch(owner.Sql.DeleteState, out var command);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = @namespace });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        return await ExecuteAsync(batch, command, cancellationToken).ConfigureAwait(false) > 0;
    }

    public async ValueTask<IReadOnlyList<string>> ListKeysAsync(string @namespace, CancellationToken cancellationToken = default)
    {
        ValidatePart(@namespace, "namespace");
        await using var batch = CreateScopedBatch(owner.Sql.ListStateKeys, out var command);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = @namespace });
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past set_config
        var keys = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            keys.Add(reader.GetString(0));
        }

        // Ordinal (UTF-16) order, which differs from the "C" collation's UTF-8 byte order for characters beyond U+FFFF.
        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    public async ValueTask<int> ClearAsync(CancellationToken cancellationToken = default)
    {
        await using var batch = CreateScopedBatch(owner.Sql.ClearState, out var command);
        return await ExecuteAsync(batch, command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a write; returns the rows the statement affected.</summary>
    private static async Task<int> ExecuteAsync(NpgsqlBatch batch, NpgsqlBatchCommand command, CancellationToken cancellationToken)
    {
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return command.RecordsAffected;
    }

    private NpgsqlBatch CreateScopedBatch(string sql, out NpgsqlBatchCommand command) => owner.CreateTenantScopedBatch(tenant, sql, out command);

    private static void Validate(string @namespace, string key)
    {
        ValidatePart(@namespace, "namespace");
        ValidatePart(key, "key");
    }

    private static void ValidatePart(string value, string paramName)
    {
        InvalidStateKeyException.ThrowIfInvalid(value, paramName);

        // PostgreSQL text is UTF-8: a lone surrogate cannot be stored, so say so instead of failing in the encoder.
        for (int i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                throw new InvalidStateKeyException($"A state {paramName} must be valid UTF-16 text (it has a lone surrogate).", paramName);
            }
        }
    }
}
