-- MultiTenant PostgreSQL schema, version 1.
-- Applied by PostgreSqlMigrator in one transaction that holds an advisory lock, with search_path set to the configured schema
-- (default "multitenant"), so the names below are unqualified. Every table is keyed by business_id; ids, namespaces and keys use
-- the "C" collation so that ORDER BY matches the library's ordinal order.

-- The registry of desired state: a tenant recorded as running is resumed when a host starts, until it is stopped.
CREATE TABLE tenants (
    business_id     text COLLATE "C" PRIMARY KEY
                    CHECK (business_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    desired_running boolean     NOT NULL,
    -- The fencing epoch of the tenant's current ownership. 0 on a single host; a fleet increments it on every acquisition, and
    -- every write of the tenant's state carries it.
    epoch           bigint      NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX tenants_desired_running ON tenants (business_id) WHERE desired_running;

-- The last status of every tenant, readable by any host.
CREATE TABLE tenant_status (
    business_id text COLLATE "C" PRIMARY KEY
                CHECK (business_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    state       text        NOT NULL CHECK (state IN ('stopped', 'starting', 'connected', 'disconnected', 'error')),
    started_at  timestamptz,
    updated_at  timestamptz NOT NULL,
    error       text,
    host        text
);

-- Per-tenant client state (the device store): opaque values under a namespace and a key.
CREATE TABLE client_state (
    business_id text COLLATE "C" NOT NULL
                CHECK (business_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    namespace   text COLLATE "C" NOT NULL CHECK (char_length(namespace) BETWEEN 1 AND 255),
    key         text COLLATE "C" NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    value       bytea       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (business_id, namespace, key)
);

-- Row-level security (off until PostgreSqlStoreOptions.EnableRowLevelSecurity turns it on): a session sees and writes only the rows
-- of the tenant named by the transaction-local setting multitenant.business_id, which every state-store call sets.
CREATE POLICY client_state_tenant_isolation ON client_state
    USING (business_id = current_setting('multitenant.business_id', true))
    WITH CHECK (business_id = current_setting('multitenant.business_id', true));
