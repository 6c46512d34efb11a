namespace MultiTenant.PostgreSql;

/// <summary>
/// The SQL of webhook subscriptions and the outbox (tables of migration 4), schema-qualified once. Every value is a parameter; the
/// schema name is a validated, quoted identifier. Times are the library's clock (parameters), as in the inbox, so that one clock
/// judges due dates and leases.
/// </summary>
internal sealed class PostgreSqlWebhookStatements
{
    // The table has no id column: a subscription's id is derived from what identifies it, its tenant and creation time (kept when the
    // subscription is replaced, new when it is deleted and created again). Epoch microseconds, not text: text depends on TimeZone.
    private const string SubscriptionColumns =
        "md5(business_id || ':' || (extract(epoch FROM created_at) * 1000000)::bigint::text)::uuid, url, event_types, secret, created_at, updated_at";

    private const string ItemColumns = "id, event_id, event_type, body, created_at, attempts, last_error";

    public PostgreSqlWebhookStatements(string schema)
    {
        string s = PostgreSqlMigrator.QuoteIdentifier(schema);
        Channel = PostgreSqlChannels.Name("multitenant_webhooks_", schema);

        // A change notifies every host (delivered at commit), so their caches of who has a subscription forget the tenant.
        Put = $"""
            INSERT INTO {s}.webhook_subscriptions AS w (business_id, url, event_types, secret, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $5)
            ON CONFLICT (business_id) DO UPDATE
                SET url = EXCLUDED.url, event_types = EXCLUDED.event_types, secret = EXCLUDED.secret, updated_at = EXCLUDED.updated_at
            RETURNING {SubscriptionColumns}, pg_notify($6, business_id)
            """;
        Get = $"SELECT {SubscriptionColumns} FROM {s}.webhook_subscriptions WHERE business_id = $1";

        // One statement: the subscription goes and its undelivered events become dead letters together.
        Delete = $"""
            WITH d AS (
                DELETE FROM {s}.webhook_subscriptions WHERE business_id = $1 RETURNING business_id, pg_notify($4, business_id)
            ), o AS (
                UPDATE {s}.outbox SET state = 'dead', last_error = $2, completed_at = $3, locked_by = NULL, locked_until = NULL
                WHERE business_id = $1 AND state = 'pending' AND EXISTS (SELECT 1 FROM d)
            )
            SELECT count(*)::int FROM d
            """;

        // The subscription check and the insert in one statement: an event is queued only while a subscription accepts its type.
        Enqueue = $"""
            INSERT INTO {s}.outbox (business_id, event_id, event_type, body, created_at, next_attempt_at)
            SELECT $1, $2, $3, $4, $5, $5 FROM {s}.webhook_subscriptions w
            WHERE w.business_id = $1 AND ($3 = ANY (w.event_types) OR '*' = ANY (w.event_types))
            ON CONFLICT (business_id, event_id) DO NOTHING
            """;

        // Only the head (the oldest pending item) is ever claimed, so a tenant's deliveries keep their order. FOR UPDATE serialises two
        // claimers: the second sees the first's lease when it re-reads the row.
        Claim = $"""
            UPDATE {s}.outbox AS o SET locked_by = $2, locked_until = $3 + $4, attempts = o.attempts + 1
            FROM (
                SELECT id FROM {s}.outbox WHERE business_id = $1 AND state = 'pending' ORDER BY id LIMIT 1 FOR UPDATE
            ) h
            WHERE o.id = h.id AND o.state = 'pending' AND o.next_attempt_at <= $3
              AND (o.locked_by IS NULL OR o.locked_by = $2 OR o.locked_until <= $3)
            RETURNING o.{ItemColumns.Replace(", ", ", o.", StringComparison.Ordinal)}
            """;
        Complete = $"""
            UPDATE {s}.outbox SET state = 'done', locked_by = NULL, locked_until = NULL, completed_at = $4
            WHERE business_id = $1 AND id = $2 AND state = 'pending' AND locked_by = $3
            """;
        Fail = $"""
            UPDATE {s}.outbox SET locked_by = NULL, locked_until = NULL, last_error = $4,
                state = CASE WHEN $5::timestamptz IS NULL THEN 'dead' ELSE 'pending' END,
                next_attempt_at = COALESCE($5::timestamptz, next_attempt_at),
                completed_at = CASE WHEN $5::timestamptz IS NULL THEN $6 END
            WHERE business_id = $1 AND id = $2 AND state = 'pending' AND locked_by = $3
            """;
        NextAttempt = $"""
            SELECT CASE WHEN locked_by IS NOT NULL AND locked_until > next_attempt_at THEN locked_until ELSE next_attempt_at END
            FROM {s}.outbox WHERE business_id = $1 AND state = 'pending' ORDER BY id LIMIT 1
            """;

        // Each tenant's head through the pending index (DISTINCT ON keeps the lowest id per tenant).
        DueTenants = $"""
            SELECT business_id FROM (
                SELECT DISTINCT ON (business_id) business_id, next_attempt_at, locked_by, locked_until
                FROM {s}.outbox WHERE state = 'pending' ORDER BY business_id, id
            ) h
            WHERE next_attempt_at <= $1 AND (locked_by IS NULL OR locked_until <= $1)
            LIMIT $2
            """;
        ListDead = $"SELECT {ItemColumns} FROM {s}.outbox WHERE business_id = $1 AND state = 'dead' AND id > $2 ORDER BY id LIMIT $3";
        // Queued anew (attempts from zero, a new retry period from $3), in its place in the order: the head is the lowest pending id.
        RetryDead = $"""
            UPDATE {s}.outbox SET state = 'pending', attempts = 0, created_at = $3, next_attempt_at = $3, completed_at = NULL,
                locked_by = NULL, locked_until = NULL
            WHERE business_id = $1 AND state = 'dead' AND ($2::bigint IS NULL OR id = $2)
            """;
        Count = $"SELECT state, count(*)::int FROM {s}.outbox WHERE business_id = $1 GROUP BY state";
        Purge = $"DELETE FROM {s}.outbox WHERE state = 'done' AND completed_at < $1";
    }

    /// <summary>The LISTEN/NOTIFY channel of subscription changes (the payload is the business id).</summary>
    public string Channel { get; }

    public string Put { get; }

    public string Get { get; }

    public string Delete { get; }

    public string Enqueue { get; }

    public string Claim { get; }

    public string Complete { get; }

    public string Fail { get; }

    public string NextAttempt { get; }

    public string DueTenants { get; }

    public string ListDead { get; }

    public string RetryDead { get; }

    public string Count { get; }

    public string Purge { get; }
}
