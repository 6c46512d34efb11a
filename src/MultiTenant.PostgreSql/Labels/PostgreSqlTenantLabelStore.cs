using System.Buffers;
using System.Text.Json;
using MultiTenant.Storage;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql;

/// <summary>
/// The PostgreSQL <see cref="ITenantLabelStore"/>: table <c>tenant_labels</c> of the store's schema (migration 9), one row per tenant
/// with labels (a JSON object), so every host of a fleet returns the labels set through any of them. No cache. The purge of a tenant
/// (<see cref="PostgreSqlTenantStore.PurgeAsync"/>) erases its row with the others. Thread-safe.
/// </summary>
public sealed class PostgreSqlTenantLabelStore : ITenantLabelStore
{
    private static readonly IReadOnlyDictionary<string, string> None = new Dictionary<string, string>();

    private readonly PostgreSqlTenantStore _store;
    private readonly TimeProvider _time;
    private readonly string _get;
    private readonly string _getMany;
    private readonly string _upsert;
    private readonly string _delete;

    /// <summary>Creates the store over the tables of <paramref name="store"/>; writes are dated with <paramref name="time"/>.</summary>
    public PostgreSqlTenantLabelStore(PostgreSqlTenantStore store, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _time = time ?? TimeProvider.System;
        string s = PostgreSqlMigrator.QuoteIdentifier(store.Schema);
        _get = $"SELECT labels::text FROM {s}.tenant_labels WHERE business_id = $1";
        _getMany = $"SELECT business_id, labels::text FROM {s}.tenant_labels WHERE business_id = ANY($1)";
        _upsert = $"""
            INSERT INTO {s}.tenant_labels (business_id, labels, updated_at) VALUES ($1, $2, $3)
            ON CONFLICT (business_id) DO UPDATE SET labels = excluded.labels, updated_at = excluded.updated_at
            """;
        _delete = $"DELETE FROM {s}.tenant_labels WHERE business_id = $1";
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyDictionary<string, string>> GetAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        await using var command = _store.CreateCommand(_get);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string json ? Parse(json) : None;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyDictionary<TenantId, IReadOnlyDictionary<string, string>>> GetManyAsync(
        IReadOnlyCollection<TenantId> tenants, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenants);
        var found = new Dictionary<TenantId, IReadOnlyDictionary<string, string>>();
        if (tenants.Count == 0)
        {
            return found;
        }

        var ids = new string[tenants.Count];
        int i = 0;
        foreach (var tenant in tenants)
        {
            ThrowIfDefault(tenant);
            ids[i++] = tenant.Value;
        }

        await using var command = _store.CreateCommand(_getMany);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (TenantId.TryParse(reader.GetString(0), out var tenant))
            {
                found[tenant] = Parse(reader.GetString(1));
            }
        }

        return found;
    }

    /// <inheritdoc />
    public async ValueTask SetAsync(TenantId tenant, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        TenantLabels.ThrowIfInvalid(labels);
        await using var command = _store.CreateCommand(labels.Count == 0 ? _delete : _upsert);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        if (labels.Count > 0)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Serialize(labels), NpgsqlDbType = NpgsqlDbType.Jsonb });
            command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = _time.GetUtcNow().UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        }

        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    // Written and read with the JSON reader and writer (no reflection: the package is AOT-compatible). Only string values are
    // written; a value of another kind in a row edited by hand is skipped when read.
    private static string Serialize(IReadOnlyDictionary<string, string> labels)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in labels)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static SortedDictionary<string, string> Parse(string json)
    {
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(json);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.String)
            {
                labels[property.Name] = property.Value.GetString()!;
            }
        }

        return labels;
    }

    private static void ThrowIfDefault(TenantId tenant)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) names no tenant.", nameof(tenant));
        }
    }
}
