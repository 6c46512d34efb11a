-- MultiTenant PostgreSQL schema, version 2: the fleet (several hosts sharing one database, SPEC §8).
-- Applied like version 1 (one transaction, advisory lock, search_path set to the configured schema).

-- Membership: every host of a fleet registers here and heartbeats (last_seen is the database clock). A host whose last_seen is older
-- than its missed-heartbeat allowance counts as dead. instance_id tells a restarted host (same host_id) from its previous incarnation.
-- This table describes hosts, not tenants, so it has no business_id.
CREATE TABLE hosts (
    host_id     text COLLATE "C" PRIMARY KEY CHECK (char_length(host_id) BETWEEN 1 AND 128),
    instance_id uuid        NOT NULL,
    capacity    integer     CHECK (capacity IS NULL OR capacity >= 0),
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);

-- Ownership: one lease per tenant that ever ran in the fleet. A lease is held while instance_id is set and expires_at (judged only by
-- the database clock, now()) is in the future. epoch is the fencing token: incremented on every acquisition and never reset (a
-- released lease keeps its row), and every write of a tenant's state carries it.
CREATE TABLE leases (
    business_id text COLLATE "C" PRIMARY KEY
                CHECK (business_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    owner       text COLLATE "C",
    instance_id uuid,
    epoch       bigint      NOT NULL DEFAULT 0,
    acquired_at timestamptz,
    expires_at  timestamptz NOT NULL DEFAULT '-infinity'
);

-- Renewals and releases select a host instance's leases.
CREATE INDEX leases_instance ON leases (instance_id) WHERE instance_id IS NOT NULL;

-- Incremented by every accepted start request, so the owner of a tenant in error knows it was started again.
ALTER TABLE tenants ADD COLUMN start_generation bigint NOT NULL DEFAULT 0;
