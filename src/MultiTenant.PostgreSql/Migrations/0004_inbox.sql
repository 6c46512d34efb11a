-- MultiTenant PostgreSQL schema: the durable inbox of webhook backends, the provider address index, and the outbox of outbound
-- webhooks (SPEC §11). Applied like the other versions (one transaction, advisory lock, search_path set to the configured schema).

-- Provider addresses (a Cloud API phone_number_id, ...) → the tenant that uses them. The primary key makes a claim exclusive: of two
-- concurrent claims of one address exactly one inserts the row.
CREATE TABLE tenant_addresses (
    provider    text COLLATE "C" NOT NULL CHECK (provider ~ '^[a-z0-9._-]{1,64}$'),
    address     text COLLATE "C" NOT NULL CHECK (char_length(address) BETWEEN 1 AND 255),
    business_id text COLLATE "C" NOT NULL
                CHECK (business_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, address)
);

CREATE INDEX tenant_addresses_tenant ON tenant_addresses (business_id, provider);

-- The inbox: verified deliveries, one row per (tenant, provider message key). The key absorbs redeliveries while the row exists
-- (done rows are kept for a retention period for that). id orders a tenant's items; the owner host consumes them in that order.
-- claimed_by/claim_epoch: the consumer handling the item (a new consumer frees claims of epochs not above its own).
CREATE TABLE inbox (
    id              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    business_id     text COLLATE "C" NOT NULL
                    CHECK (business_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    item_key        text COLLATE "C" NOT NULL CHECK (char_length(item_key) BETWEEN 1 AND 255),
    source          text NOT NULL CHECK (source ~ '^[a-z0-9._-]{1,64}$'),
    kind            text NOT NULL CHECK (kind ~ '^[a-z0-9._-]{1,64}$'),
    payload         bytea NOT NULL,
    received_at     timestamptz NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    claimed_by      uuid,
    claim_epoch     bigint,
    last_error      text,
    completed_at    timestamptz,
    PRIMARY KEY (business_id, item_key)
);

CREATE INDEX inbox_pending ON inbox (business_id, id) WHERE state = 'pending';
CREATE INDEX inbox_dead ON inbox (business_id, id) WHERE state = 'dead';
CREATE INDEX inbox_done ON inbox (completed_at) WHERE state = 'done';

-- Deliveries for an address that no tenant holds yet (they raced the tenant's credential setup): kept, bounded by the library, and
-- moved into the inbox of the tenant that claims the address. No business_id: no tenant owns these rows yet.
CREATE TABLE inbox_unrouted (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider    text COLLATE "C" NOT NULL,
    address     text COLLATE "C" NOT NULL,
    item_key    text COLLATE "C" NOT NULL,
    source      text NOT NULL,
    kind        text NOT NULL,
    payload     bytea NOT NULL,
    received_at timestamptz NOT NULL,
    UNIQUE (provider, address, item_key)
);

-- Outbound webhook subscriptions: one endpoint per tenant. The secret is stored protected (encrypted by the host's protector).
CREATE TABLE webhook_subscriptions (
    business_id text COLLATE "C" PRIMARY KEY
                CHECK (business_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    url         text NOT NULL,
    event_types text[] NOT NULL,
    secret      bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- The outbox: events to deliver to a tenant's endpoint, in id order per tenant. Only a tenant's oldest pending row is ever sent;
-- locked_until is the lease of the host sending it (any host may send; a dead sender's lease runs out).
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    business_id     text COLLATE "C" NOT NULL
                    CHECK (business_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    event_id        text COLLATE "C" NOT NULL CHECK (char_length(event_id) BETWEEN 1 AND 255),
    event_type      text NOT NULL,
    body            bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_by       uuid,
    locked_until    timestamptz,
    last_error      text,
    completed_at    timestamptz,
    PRIMARY KEY (business_id, event_id)
);

CREATE INDEX outbox_pending ON outbox (business_id, id) WHERE state = 'pending';
CREATE INDEX outbox_dead ON outbox (business_id, id) WHERE state = 'dead';
