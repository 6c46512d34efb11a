namespace MultiTenant.PostgreSql;

/// <summary>The inbox's SQL, schema-qualified once. Every value is a parameter; the schema name is a validated, quoted identifier.</summary>
internal sealed class PostgreSqlInboxStatements
{
    private const string Columns = "i.id, i.business_id, i.item_key, i.source, i.kind, i.payload, i.received_at, i.state, i.attempts, i.next_attempt_at, i.last_error";

    public PostgreSqlInboxStatements(string schema)
    {
        string s = PostgreSqlMigrator.QuoteIdentifier(schema);
        Channel = PostgreSqlChannels.Name("multitenant_inbox_", schema);

        // One statement, so one transaction: every item is stored or none is. ORDER BY ord gives a tenant's items ids in list order.
        Write = $"""
            WITH input AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[]) WITH ORDINALITY
                    AS x(business_id, item_key, source, kind, payload, ord)
            ), ins AS (
                INSERT INTO {s}.inbox (business_id, item_key, source, kind, payload, received_at, next_attempt_at)
                SELECT business_id, item_key, source, kind, payload, $6, $6 FROM input ORDER BY ord
                ON CONFLICT (business_id, item_key) DO NOTHING
                RETURNING business_id
            )
            SELECT business_id, count(*)::int FROM ins GROUP BY business_id
            """;

        // The running bool_and over the tenant's pending items in id order keeps the longest due, unclaimed prefix: a failed item waiting
        // for its retry (or held by a live consumer) holds back everything after it. The outer WHERE re-checks the claim, so of two
        // concurrent claimers the second skips the rows the first took.
        Claim = $"""
            UPDATE {s}.inbox AS i SET claimed_by = $2, claim_epoch = $3, attempts = i.attempts + 1
            FROM (
                SELECT id FROM (
                    SELECT id, bool_and(next_attempt_at <= $4 AND (claimed_by IS NULL OR claimed_by = $2 OR claim_epoch < $3))
                               OVER (ORDER BY id) AS ok
                    FROM {s}.inbox WHERE business_id = $1 AND state = 'pending' ORDER BY id LIMIT $5
                ) h WHERE ok
            ) c
            WHERE i.id = c.id AND i.business_id = $1 AND i.state = 'pending'
              AND (i.claimed_by IS NULL OR i.claimed_by = $2 OR i.claim_epoch < $3)
            RETURNING {Columns}
            """;
        ResetClaims = $"""
            UPDATE {s}.inbox SET claimed_by = NULL, claim_epoch = NULL
            WHERE business_id = $1 AND state = 'pending' AND claimed_by IS NOT NULL AND claim_epoch <= $2
            """;
        Release = $"""
            UPDATE {s}.inbox SET claimed_by = NULL, claim_epoch = NULL, attempts = greatest(attempts - 1, 0)
            WHERE business_id = $1 AND id = ANY($2) AND state = 'pending' AND claimed_by = $3
            """;
        Complete = $"""
            UPDATE {s}.inbox SET state = 'done', claimed_by = NULL, claim_epoch = NULL, completed_at = $4
            WHERE business_id = $1 AND id = $2 AND state = 'pending' AND claimed_by = $3
            """;
        Fail = $"""
            UPDATE {s}.inbox SET claimed_by = NULL, claim_epoch = NULL, last_error = $4,
                state = CASE WHEN $5::timestamptz IS NULL THEN 'dead' ELSE 'pending' END,
                next_attempt_at = COALESCE($5::timestamptz, next_attempt_at)
            WHERE business_id = $1 AND id = $2 AND state = 'pending' AND claimed_by = $3
            """;
        ListDead = $"SELECT {Columns} FROM {s}.inbox i WHERE i.business_id = $1 AND i.state = 'dead' AND i.id > $2 ORDER BY i.id LIMIT $3";
        Retry = $"""
            UPDATE {s}.inbox SET state = 'pending', attempts = 0, next_attempt_at = $3, claimed_by = NULL, claim_epoch = NULL
            WHERE business_id = $1 AND id = $2 AND state = 'dead'
            """;
        RetryAll = $"""
            UPDATE {s}.inbox SET state = 'pending', attempts = 0, next_attempt_at = $2, claimed_by = NULL, claim_epoch = NULL
            WHERE business_id = $1 AND state = 'dead'
            """;
        Count = $"SELECT state, count(*) FROM {s}.inbox WHERE business_id = $1 GROUP BY state";
        Purge = $"DELETE FROM {s}.inbox WHERE state = 'done' AND completed_at < $1";

        // Unrouted items: the table lock serialises writers, so the capacity check and the insert see the same count (a rare path).
        LockUnrouted = $"LOCK TABLE {s}.inbox_unrouted IN SHARE ROW EXCLUSIVE MODE";
        CountUnrouted = $"SELECT count(*) FROM {s}.inbox_unrouted";
        WriteUnrouted = $"""
            INSERT INTO {s}.inbox_unrouted (provider, address, item_key, source, kind, payload, received_at)
            SELECT $1, $2, item_key, source, kind, payload, $7
            FROM unnest($3::text[], $4::text[], $5::text[], $6::bytea[]) WITH ORDINALITY AS x(item_key, source, kind, payload, ord)
            ORDER BY ord
            ON CONFLICT (provider, address, item_key) DO NOTHING
            """;
        Adopt = $"""
            WITH moved AS (
                DELETE FROM {s}.inbox_unrouted WHERE provider = $1 AND address = $2
                RETURNING id, item_key, source, kind, payload, received_at
            ), ins AS (
                INSERT INTO {s}.inbox (business_id, item_key, source, kind, payload, received_at, next_attempt_at)
                SELECT $3, item_key, source, kind, payload, received_at, $4 FROM moved ORDER BY id
                ON CONFLICT (business_id, item_key) DO NOTHING
                RETURNING 1
            )
            SELECT count(*)::int FROM ins
            """;
    }

    /// <summary>The LISTEN/NOTIFY channel of the schema's inbox; the payload is a business id.</summary>
    public string Channel { get; }

    public string Notify { get; } = "SELECT pg_notify($1, $2)";

    public string Write { get; }

    public string Claim { get; }

    public string ResetClaims { get; }

    public string Release { get; }

    public string Complete { get; }

    public string Fail { get; }

    public string ListDead { get; }

    public string Retry { get; }

    public string RetryAll { get; }

    public string Count { get; }

    public string Purge { get; }

    public string LockUnrouted { get; }

    public string CountUnrouted { get; }

    public string WriteUnrouted { get; }

    public string Adopt { get; }
}

/// <summary>Names of LISTEN/NOTIFY channels.</summary>
internal static class PostgreSqlChannels
{
    /// <summary>
    /// <paramref name="prefix"/> followed by <paramref name="schema"/> while that fits PostgreSQL's identifier limit (63 bytes; a longer
    /// name would be truncated silently, and two long schemas could share one channel), otherwise followed by the first 32 hex digits of
    /// the SHA-256 of the schema name.
    /// </summary>
    public static string Name(string prefix, string schema)
    {
        const int maxIdentifierBytes = 63;
        string plain = prefix + schema;
        if (System.Text.Encoding.UTF8.GetByteCount(plain) <= maxIdentifierBytes)
        {
            return plain;
        }

        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(schema));
        return prefix + Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }
}
