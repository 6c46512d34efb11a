using MultiTenant.Inbox;
using Npgsql;

namespace MultiTenant.PostgreSql;

/// <summary>Reads inbox rows (the columns of <see cref="PostgreSqlInboxStatements"/>, in their order).</summary>
internal static class InboxRows
{
    public static async Task<List<InboxItem>> ReadItemsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var items = new List<InboxItem>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!TenantId.TryParse(reader.GetString(1), out var tenant))
            {
                continue;
            }

            var state = reader.GetString(7) switch
            {
                "done" => InboxItemState.Done,
                "dead" => InboxItemState.DeadLetter,
                _ => InboxItemState.Pending,
            };
            items.Add(new InboxItem(
                reader.GetInt64(0),
                tenant,
                reader.GetString(2),
                reader.GetString(3),
                reader.GetString(4),
                reader.GetFieldValue<byte[]>(5),
                reader.GetFieldValue<DateTimeOffset>(6),
                state,
                reader.GetInt32(8),
                reader.GetFieldValue<DateTimeOffset>(9),
                reader.IsDBNull(10) ? null : reader.GetString(10)));
        }

        return items;
    }
}
