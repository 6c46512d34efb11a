using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql;

/// <summary>
/// How statuses become rows and back, in one place for the plain store and the fleet's fenced writes: the state names, the six arrays of
/// a status batch (<c>unnest</c> parameters <c>$1</c>…<c>$6</c>) with text made storable (<see cref="StorableText"/>).
/// </summary>
internal static class StatusRows
{
    /// <summary>Parses a stored state name (ToWireName's), or <see langword="null"/> for an unknown one.</summary>
    public static TenantState? ParseState(string wire) => wire switch
    {
        "stopped" => TenantState.Stopped,
        "starting" => TenantState.Starting,
        "connected" => TenantState.Connected,
        "disconnected" => TenantState.Disconnected,
        "error" => TenantState.Error,
        _ => null,
    };

    /// <summary>
    /// Adds the batch arrays of <paramref name="statuses"/> (one per tenant: the caller keeps the latest) as <c>$1</c>…<c>$6</c>: business
    /// ids, states, started-at, updated-at, errors and hosts, in the order of <paramref name="statuses"/>.
    /// </summary>
    public static void AddArrays(NpgsqlParameterCollection parameters, IReadOnlyList<TenantStatus> statuses)
    {
        int count = statuses.Count;
        var ids = new string[count];
        var states = new string[count];
        var startedAt = new DateTimeOffset?[count];
        var updatedAt = new DateTimeOffset[count];
        var errors = new string?[count];
        var hosts = new string?[count];
        for (int i = 0; i < count; i++)
        {
            var status = statuses[i];
            ids[i] = status.BusinessId.Value;
            states[i] = status.State.ToWireName();
            startedAt[i] = status.StartedAt?.ToUniversalTime();
            updatedAt[i] = status.UpdatedAt.ToUniversalTime();
            errors[i] = StorableText(status.Error);
            hosts[i] = StorableText(status.Host);
        }

        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        parameters.Add(new NpgsqlParameter<string[]> { TypedValue = states, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        parameters.Add(new NpgsqlParameter<DateTimeOffset?[]> { TypedValue = startedAt, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = updatedAt, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = errors, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = hosts, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
    }

    /// <summary>
    /// PostgreSQL text cannot hold U+0000, and UTF-8 cannot hold a lone surrogate: such characters (from a client's error text) are
    /// replaced by U+FFFD, so that one odd message can never make a whole status batch fail again and again.
    /// </summary>
    public static string? StorableText(string? text)
    {
        if (text is null)
        {
            return null;
        }

        char[]? copy = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }

            if (c == '\0' || char.IsSurrogate(c))
            {
                copy ??= text.ToCharArray();
                copy[i] = '\uFFFD';
            }
        }

        return copy is null ? text : new string(copy);
    }
}
