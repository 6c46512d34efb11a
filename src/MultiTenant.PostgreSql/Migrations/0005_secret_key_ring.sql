-- MultiTenant PostgreSQL schema: the key ring of secrets at rest (issue 9). Applied like the earlier versions (one transaction,
-- advisory lock, search_path set to the configured schema).

-- The ASP.NET Core Data Protection keys that encrypt tenants' secrets (Cloud API access tokens and the like), shared by every host of
-- a fleet so that any host reads what another wrote. Each row is one XML element of the key ring: a key (its master key encrypted
-- with the key-encryption key from the hosts' configuration, which never lives in this database) or a revocation. Rows are only
-- inserted, never updated or deleted: old keys stay so that what they protected stays readable. Not keyed by business_id: one key
-- ring serves every tenant (each secret is bound to its tenant by its Data Protection purpose).
CREATE TABLE secret_key_ring (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    friendly_name text        NOT NULL CHECK (char_length(friendly_name) BETWEEN 1 AND 255),
    xml           text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
