-- MultiTenant PostgreSQL schema: API keys of tenants (issue 9). Applied like the earlier versions (one transaction, advisory lock,
-- search_path set to the configured schema).

-- One row per tenant API key: only the SHA-256 hash of the key (32 bytes) is stored, never the key. A revoked key keeps its row
-- (revoked_at set) so that the audit of who had access stays; lookups read unrevoked rows only, on every host at once.
CREATE TABLE tenant_api_keys (
    business_id text        NOT NULL CHECK (char_length(business_id) BETWEEN 1 AND 64),
    id          uuid        NOT NULL,
    key_hash    bytea       NOT NULL CHECK (octet_length(key_hash) = 32),
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    PRIMARY KEY (business_id, id)
);

CREATE UNIQUE INDEX tenant_api_keys_hash ON tenant_api_keys (key_hash) WHERE revoked_at IS NULL;
