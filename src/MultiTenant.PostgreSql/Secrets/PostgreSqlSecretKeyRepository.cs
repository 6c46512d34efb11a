using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Npgsql;

namespace MultiTenant.PostgreSql;

/// <summary>
/// The Data Protection key ring of secrets at rest in the <c>secret_key_ring</c> table (migration 5), so every host of a fleet shares
/// one key ring. Registered by <c>UsePostgreSql()</c> through <c>UseSecretKeyRepository()</c>. The elements it receives already have
/// their master keys encrypted with the configured key-encryption key; it stores them as they are and never updates or deletes a row.
/// </summary>
/// <remarks>
/// <see cref="IXmlRepository"/> is synchronous: Data Protection reads the key ring when it first needs it and on refreshes (at most
/// daily, or when a payload names a key it does not know), and writes once per new key, so these calls are rare and short.
/// </remarks>
internal sealed class PostgreSqlSecretKeyRepository(NpgsqlDataSource dataSource, string schema, int commandTimeoutSeconds) : IXmlRepository
{
    private readonly string _table = PostgreSqlMigrator.QuoteIdentifier(schema) + ".secret_key_ring";

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        var elements = new List<XElement>();
        using var command = dataSource.CreateCommand($"SELECT xml FROM {_table} ORDER BY id");
        command.CommandTimeout = commandTimeoutSeconds;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            elements.Add(XElement.Parse(reader.GetString(0)));
        }

        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        using var command = dataSource.CreateCommand($"INSERT INTO {_table} (friendly_name, xml) VALUES ($1, $2)");
        command.CommandTimeout = commandTimeoutSeconds;
        command.Parameters.Add(new NpgsqlParameter { Value = string.IsNullOrEmpty(friendlyName) ? "key" : friendlyName });
        command.Parameters.Add(new NpgsqlParameter { Value = element.ToString(SaveOptions.DisableFormatting) });
        command.ExecuteNonQuery();
    }
}
