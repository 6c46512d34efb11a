-- MultiTenant PostgreSQL schema: Idempotency-Key of message sends (issue 9). Applied like the earlier versions (one transaction,
-- advisory lock, search_path set to the configured schema).

-- One row per (tenant, key) for 24 hours from its first use: the SHA-256 hash of the request that used the key, whether its send is
-- in progress or completed and, once completed, the message id that every retry gets. claimed_at is when the current claim began
-- (an unfinished claim older than 5 minutes may be taken over by the same request). Rows older than 24 hours are pruned.
CREATE TABLE tenant_idempotency_keys (
    business_id  text        NOT NULL CHECK (char_length(business_id) BETWEEN 1 AND 64),
    key          text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash bytea       NOT NULL CHECK (octet_length(request_hash) = 32),
    state        text        NOT NULL CHECK (state IN ('in_progress', 'completed')),
    message_id   text        CHECK ((state = 'completed') = (message_id IS NOT NULL)),
    created_at   timestamptz NOT NULL,
    claimed_at   timestamptz NOT NULL,
    PRIMARY KEY (business_id, key)
);

CREATE INDEX tenant_idempotency_keys_created ON tenant_idempotency_keys (created_at);
