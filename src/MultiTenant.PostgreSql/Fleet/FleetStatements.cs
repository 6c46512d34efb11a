namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// The fleet's SQL, schema-qualified once. Every value is a parameter; the schema is a validated, quoted identifier. Lease expiry is
/// judged only by the database clock (<c>now()</c>); a lease belongs to a host instance (<c>instance_id</c>), so a restarted host never
/// renews its previous incarnation's leases.
/// </summary>
internal sealed class FleetStatements
{
    public FleetStatements(string schema)
    {
        string s = PostgreSqlMigrator.QuoteIdentifier(schema);
        Channel = ChannelName(schema);

        // $1 host, $2 instance, $3 capacity, $4 dead-after: takes the row over from a previous incarnation only once it is dead.
        Register = $"""
            INSERT INTO {s}.hosts AS h (host_id, instance_id, capacity, started_at, last_seen) VALUES ($1, $2, $3, now(), now())
            ON CONFLICT (host_id) DO UPDATE SET instance_id = EXCLUDED.instance_id, capacity = EXCLUDED.capacity, started_at = now(), last_seen = now()
            WHERE h.instance_id = EXCLUDED.instance_id OR h.last_seen < now() - $4::interval
            RETURNING 1
            """;

        // $1 host, $2 instance, $3 capacity. No row: another instance took the host id over.
        Heartbeat = $"""
            UPDATE {s}.hosts SET last_seen = now(), capacity = $3 WHERE host_id = $1 AND instance_id = $2 RETURNING 1
            """;

        Leave = $"DELETE FROM {s}.hosts WHERE host_id = $1 AND instance_id = $2";

        // $1 instance, $2 ttl. One statement for all of the instance's leases, whatever their number.
        Renew = $"""
            UPDATE {s}.leases SET expires_at = now() + $2::interval
            WHERE instance_id = $1 AND expires_at > now()
            RETURNING business_id, epoch
            """;

        // $1 sorted business ids: rows for tenants that never had a lease (sorted, so concurrent inserts cannot deadlock).
        EnsureLeaseRows = $"""
            INSERT INTO {s}.leases (business_id) SELECT b FROM unnest($1::text[]) AS b ORDER BY b ON CONFLICT (business_id) DO NOTHING
            """;

        // $1 sorted business ids, $2 host, $3 instance, $4 ttl. Claims the free or expired leases of desired tenants; rows another host
        // is claiming right now are skipped (no waiting, no thundering herd). Each acquisition increments the epoch.
        Acquire = $"""
            UPDATE {s}.leases AS l
            SET owner = $2, instance_id = $3, epoch = l.epoch + 1, acquired_at = now(), expires_at = now() + $4::interval
            FROM (
                SELECT le.business_id FROM {s}.leases le JOIN {s}.tenants t ON t.business_id = le.business_id
                WHERE le.business_id = ANY($1::text[]) AND t.desired_running AND (le.instance_id IS NULL OR le.expires_at <= now())
                ORDER BY le.business_id
                FOR UPDATE OF le SKIP LOCKED
            ) AS c
            WHERE l.business_id = c.business_id
            RETURNING l.business_id, l.epoch
            """;

        // $1 instance, $2 business ids.
        Release = $"""
            UPDATE {s}.leases SET owner = NULL, instance_id = NULL, expires_at = '-infinity'
            WHERE instance_id = $1 AND business_id = ANY($2::text[])
            """;

        ReleaseAll = $"UPDATE {s}.leases SET owner = NULL, instance_id = NULL, expires_at = '-infinity' WHERE instance_id = $1";

        // The desired tenants with their lease state (and, for a held lease, the seconds until it expires by the database clock), and the
        // live hosts.
        ReadDesired = $"""
            SELECT t.business_id, t.start_generation, l.instance_id, (l.instance_id IS NOT NULL AND l.expires_at > now()) AS held,
                   CASE WHEN l.instance_id IS NOT NULL AND l.expires_at > now() THEN extract(epoch FROM l.expires_at - now())::float8 END AS expires_in
            FROM {s}.tenants t LEFT JOIN {s}.leases l ON l.business_id = t.business_id
            WHERE t.desired_running
            """;
        // The desired tenants whose lease no live instance holds (never acquired, released, or expired by the database clock).
        ReadUnheld = $"""
            SELECT t.business_id FROM {s}.tenants t LEFT JOIN {s}.leases l ON l.business_id = t.business_id
            WHERE t.desired_running AND (l.instance_id IS NULL OR l.expires_at <= now())
            ORDER BY t.business_id
            """;

        // $1 dead-after: the live hosts, with the seconds until each counts as dead unless it heartbeats again.
        ReadLiveHosts = $"""
            SELECT host_id, capacity, extract(epoch FROM last_seen + $1::interval - now())::float8 AS dead_in
            FROM {s}.hosts WHERE last_seen > now() - $1::interval
            """;

        // $1 business id. A start is accepted when the tenant is not desired-running yet, or when it is in error (started again).
        RequestStart = $"""
            INSERT INTO {s}.tenants AS t (business_id, desired_running) VALUES ($1, true)
            ON CONFLICT (business_id) DO UPDATE SET desired_running = true, start_generation = t.start_generation + 1, updated_at = now()
            WHERE NOT t.desired_running
               OR EXISTS (SELECT 1 FROM {s}.tenant_status st WHERE st.business_id = $1 AND st.state = 'error')
            RETURNING start_generation
            """;
        RequestStop = $"UPDATE {s}.tenants SET desired_running = false, updated_at = now() WHERE business_id = $1 RETURNING 1";

        // $1 business id: a stopped tenant that never ran anywhere (stopped before a host claimed it) gets a status row, so it is still
        // listed; an existing row is the owner's to write (its final status), so it is left alone.
        StatusOnStop = $"""
            INSERT INTO {s}.tenant_status (business_id, state, updated_at)
            SELECT $1, 'stopped', now() WHERE EXISTS (SELECT 1 FROM {s}.tenants WHERE business_id = $1)
            ON CONFLICT (business_id) DO NOTHING
            """;
        CurrentOwner = $"""
            SELECT COALESCE((SELECT owner FROM {s}.leases WHERE business_id = $1 AND instance_id IS NOT NULL AND expires_at > now()),
                            (SELECT host FROM {s}.tenant_status WHERE business_id = $1))
            """;
        Notify = "SELECT pg_notify($1, $2)";

        // Fenced status upsert: $1..$6 as the store's upsert, $7 epochs, $8 instance. A row is written only while its lease is held
        // with that epoch; a status never overwrites a newer one of the same host.
        UpsertStatusesFenced = $"""
            INSERT INTO {s}.tenant_status AS t (business_id, state, started_at, updated_at, error, host)
            SELECT u.business_id, u.state, u.started_at, u.updated_at, u.error, u.host
            FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[], $7::bigint[])
                 AS u(business_id, state, started_at, updated_at, error, host, epoch)
            WHERE EXISTS (SELECT 1 FROM {s}.leases l
                          WHERE l.business_id = u.business_id AND l.instance_id = $8 AND l.epoch = u.epoch AND l.expires_at > now())
            ON CONFLICT (business_id) DO UPDATE SET
                state = EXCLUDED.state, started_at = EXCLUDED.started_at, updated_at = EXCLUDED.updated_at,
                error = EXCLUDED.error, host = EXCLUDED.host
            WHERE t.host IS DISTINCT FROM EXCLUDED.host OR t.updated_at <= EXCLUDED.updated_at
            """;

        // Fenced client-state writes: $1 tenant, then the statement's values, then instance and epoch. The lease row is share-locked,
        // so an acquisition by another host waits for the write to finish (and then the write's fence no longer holds for later ones).
        string fence = $"SELECT 1 AS ok FROM {s}.leases WHERE business_id = $1 AND instance_id = $X AND epoch = $Y AND expires_at > now() FOR SHARE";
        SetStateFenced = $"""
            WITH fence AS ({fence.Replace("$X", "$5", StringComparison.Ordinal).Replace("$Y", "$6", StringComparison.Ordinal)})
            INSERT INTO {s}.client_state (business_id, namespace, key, value) SELECT $1, $2, $3, $4 FROM fence
            ON CONFLICT (business_id, namespace, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
            """;
        DeleteStateFenced = $"""
            WITH fence AS ({fence.Replace("$X", "$4", StringComparison.Ordinal).Replace("$Y", "$5", StringComparison.Ordinal)}),
                 d AS (DELETE FROM {s}.client_state WHERE business_id = $1 AND namespace = $2 AND key = $3 AND EXISTS (SELECT 1 FROM fence) RETURNING 1)
            SELECT (SELECT count(*) FROM fence), (SELECT count(*) FROM d)
            """;
        ClearStateFenced = $"""
            WITH fence AS ({fence.Replace("$X", "$2", StringComparison.Ordinal).Replace("$Y", "$3", StringComparison.Ordinal)}),
                 d AS (DELETE FROM {s}.client_state WHERE business_id = $1 AND EXISTS (SELECT 1 FROM fence) RETURNING 1)
            SELECT (SELECT count(*) FROM fence), (SELECT count(*) FROM d)
            """;

        // The fleet view of statuses: $1 dead-after, $2 the owner-lost error. A stored running state (starting, connected, disconnected)
        // whose lease has expired, or whose owner instance stopped heartbeating, is read as disconnected with that error: no host runs
        // the tenant now. The owner's next write (or the next owner's) replaces it.
        string fleetView = $"""
            SELECT st.business_id,
                   CASE WHEN x.lost THEN 'disconnected' ELSE st.state END,
                   st.started_at, st.updated_at,
                   CASE WHEN x.lost THEN $2 ELSE st.error END,
                   st.host
            FROM {s}.tenant_status st
            CROSS JOIN LATERAL (
                SELECT st.state IN ('starting', 'connected', 'disconnected') AND NOT EXISTS (
                    SELECT 1 FROM {s}.leases l JOIN {s}.hosts h ON h.instance_id = l.instance_id
                    WHERE l.business_id = st.business_id AND l.expires_at > now() AND h.last_seen > now() - $1::interval) AS lost
            ) AS x
            """;
        ListStatusesFleetView = fleetView + " ORDER BY st.business_id";
        GetStatusFleetView = fleetView + " WHERE st.business_id = $3";

        // Relayed sends. $1 business id: whether the tenant is known, its live lease's instance, whether it is desired running, its status.
        RelayTarget = $"""
            SELECT (t.business_id IS NOT NULL OR st.business_id IS NOT NULL) AS known,
                   (SELECT l.instance_id FROM {s}.leases l WHERE l.business_id = $1 AND l.instance_id IS NOT NULL AND l.expires_at > now()) AS owner,
                   COALESCE(t.desired_running, false) AS desired,
                   st.state
            FROM (SELECT 1) AS one
            LEFT JOIN {s}.tenants t ON t.business_id = $1
            LEFT JOIN {s}.tenant_status st ON st.business_id = $1
            """;

        // $1 id, $2 business id, $3 target instance, $4 requester instance, $5 recipient, $6 text.
        RelayInsert = $"""
            INSERT INTO {s}.send_relay (id, business_id, target_instance, requester_instance, recipient, text, message) VALUES ($1, $2, $3, $4, $5, $6, $7)
            """;

        // $1 instance, $2 max age: claims this instance's pending requests that their requester still waits for.
        RelayClaim = $"""
            UPDATE {s}.send_relay AS r SET claimed_at = now()
            FROM (
                SELECT id FROM {s}.send_relay
                WHERE target_instance = $1 AND claimed_at IS NULL AND created_at > now() - $2::interval
                ORDER BY created_at LIMIT 100
                FOR UPDATE SKIP LOCKED
            ) AS c
            WHERE r.id = c.id
            RETURNING r.id, r.business_id, r.recipient, r.text, r.requester_instance, r.message
            """;

        // $1 id, $2 message id, $3 error, $4 error kind, $5 error state, $6 transient, $7 error code, $8 retry-after (ms).
        RelayComplete = $"""
            UPDATE {s}.send_relay SET message_id = $2, error = $3, error_kind = $4, error_state = $5, error_transient = $6,
                error_code = $7, retry_after_ms = $8, completed_at = now()
            WHERE id = $1
            """;

        RelayRead = $"""
            SELECT message_id, error, error_kind, error_state, error_transient, error_code, retry_after_ms
            FROM {s}.send_relay WHERE id = $1 AND completed_at IS NOT NULL
            """;

        RelayDelete = $"DELETE FROM {s}.send_relay WHERE id = $1";

        // $1 id: withdraws a request the owner has not claimed (then it can never be sent); no row when it was claimed.
        RelayWithdraw = $"DELETE FROM {s}.send_relay WHERE id = $1 AND claimed_at IS NULL RETURNING 1";

        // $1 age.
        RelaySweep = $"DELETE FROM {s}.send_relay WHERE created_at < now() - $1::interval";
    }

    /// <summary>The LISTEN/NOTIFY channel of the schema's fleet.</summary>
    public string Channel { get; }

    /// <summary>
    /// The channel of <paramref name="schema"/>'s fleet: <c>multitenant_fleet_&lt;schema&gt;</c> while that fits PostgreSQL's identifier
    /// limit (63 bytes; a longer name would be truncated silently, and two long schemas could share one channel), otherwise
    /// <c>multitenant_fleet_</c> followed by the first 32 hex digits of the SHA-256 of the schema name (50 bytes).
    /// </summary>
    internal static string ChannelName(string schema) => PostgreSqlChannels.Name("multitenant_fleet_", schema);

    /// <summary>The error of a tenant listed as disconnected because no live host holds its lease.</summary>
    public const string OwnerHostLostError = "owner host lost: the host running the tenant stopped heartbeating or its lease expired; it runs again once a live host claims it";

    public string ListStatusesFleetView { get; }

    public string GetStatusFleetView { get; }

    public string Register { get; }

    public string Heartbeat { get; }

    public string Leave { get; }

    public string Renew { get; }

    public string EnsureLeaseRows { get; }

    public string Acquire { get; }

    public string Release { get; }

    public string ReleaseAll { get; }

    public string ReadDesired { get; }

    public string ReadLiveHosts { get; }

    public string ReadUnheld { get; }

    public string RequestStart { get; }

    public string RequestStop { get; }

    public string StatusOnStop { get; }

    public string CurrentOwner { get; }

    public string Notify { get; }

    public string UpsertStatusesFenced { get; }

    public string SetStateFenced { get; }

    public string DeleteStateFenced { get; }

    public string ClearStateFenced { get; }

    public string RelayTarget { get; }

    public string RelayInsert { get; }

    public string RelayClaim { get; }

    public string RelayComplete { get; }

    public string RelayRead { get; }

    public string RelayDelete { get; }

    public string RelayWithdraw { get; }

    public string RelaySweep { get; }
}
