using MultiTenant.Inbox;
using Npgsql;

namespace MultiTenant.PostgreSql;

/// <summary>
/// The PostgreSQL <see cref="ITenantAddressIndex"/>: table <c>tenant_addresses</c> of the store's schema, whose primary key
/// (provider, address) makes a claim exclusive across every host. Thread-safe.
/// </summary>
public sealed class PostgreSqlTenantAddressIndex : ITenantAddressIndex
{
    private readonly PostgreSqlTenantStore _store;
    private readonly string _claim;
    private readonly string _release;
    private readonly string _find;
    private readonly string _list;

    /// <summary>Creates the index over the tables of <paramref name="store"/> (its data source, schema and timeouts).</summary>
    public PostgreSqlTenantAddressIndex(PostgreSqlTenantStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        string s = PostgreSqlMigrator.QuoteIdentifier(store.Schema);

        // The no-op update locks a row that exists and returns its owner: one statement tells a win from a loss, never an error.
        _claim = $"""
            INSERT INTO {s}.tenant_addresses AS a (provider, address, business_id) VALUES ($1, $2, $3)
            ON CONFLICT (provider, address) DO UPDATE SET business_id = a.business_id
            RETURNING a.business_id, (xmax = 0) AS inserted
            """;
        _release = $"DELETE FROM {s}.tenant_addresses WHERE provider = $1 AND address = $2 AND business_id = $3";
        _find = $"SELECT business_id FROM {s}.tenant_addresses WHERE provider = $1 AND address = $2";
        _list = $"SELECT address FROM {s}.tenant_addresses WHERE business_id = $1 AND provider = $2 ORDER BY address";
    }

    /// <inheritdoc />
    public async ValueTask<AddressClaimResult> ClaimAsync(TenantAddress address, TenantId tenant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        ThrowIfDefault(tenant);
        await using var command = Command(_claim, address.Provider, address.Value, tenant.Value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        string owner = reader.GetString(0);
        bool inserted = reader.GetBoolean(1);
        return inserted ? AddressClaimResult.Claimed
            : string.Equals(owner, tenant.Value, StringComparison.Ordinal) ? AddressClaimResult.AlreadyHeld
            : AddressClaimResult.HeldByAnotherTenant;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ReleaseAsync(TenantAddress address, TenantId tenant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        ThrowIfDefault(tenant);
        await using var command = Command(_release, address.Provider, address.Value, tenant.Value);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async ValueTask<TenantId?> FindAsync(TenantAddress address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        await using var command = Command(_find, address.Provider, address.Value);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string owner && TenantId.TryParse(owner, out var tenant)
            ? tenant
            : null;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<TenantAddress>> ListAsync(TenantId tenant, string provider, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        InboxNames.ThrowIfInvalidName(provider, nameof(provider));
        await using var command = Command(_list, tenant.Value, provider);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<TenantAddress>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new TenantAddress(provider, reader.GetString(0)));
        }

        return list;
    }

    private NpgsqlCommand Command(string sql, params string[] values)
    {
        var command = _store.DataSource.CreateCommand(sql);
        command.CommandTimeout = _store.CommandTimeoutSeconds;
        foreach (string value in values)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = value });
        }

        return command;
    }

    private static void ThrowIfDefault(TenantId tenant)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) names no tenant.", nameof(tenant));
        }
    }
}
