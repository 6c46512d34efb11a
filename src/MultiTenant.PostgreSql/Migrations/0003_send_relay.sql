-- MultiTenant PostgreSQL schema, version 3: sends relayed between the hosts of a fleet (SPEC §8: any host accepts any API call).
-- Applied like versions 1 and 2 (one transaction, advisory lock, search_path set to the configured schema).

-- A send accepted by a host that does not run the tenant: the requester inserts a row for the lease owner's instance and notifies it;
-- the owner claims the row, sends through the tenant's client, writes the message id or the error, and notifies the requester, which
-- reads the result and deletes the row. Rows left behind (a host died mid-way) are swept after a few minutes.
CREATE TABLE send_relay (
    id                 uuid PRIMARY KEY,
    business_id        text COLLATE "C" NOT NULL
                       CHECK (business_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    target_instance    uuid        NOT NULL,
    requester_instance uuid        NOT NULL,
    recipient          text        NOT NULL,
    text               text        NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    claimed_at         timestamptz,
    -- The result: a message id, or an error of one kind ('not_connected' with the tenant's state, or 'send' with the backend's answer).
    message_id         text,
    error              text,
    error_kind         text CHECK (error_kind IN ('not_connected', 'send')),
    error_state        text,
    error_transient    boolean,
    error_code         text,
    retry_after_ms     bigint,
    completed_at       timestamptz
);

-- The owner's claim of its pending requests, and the sweep of old rows.
CREATE INDEX send_relay_pending ON send_relay (target_instance, created_at) WHERE claimed_at IS NULL;
CREATE INDEX send_relay_created ON send_relay (created_at);
