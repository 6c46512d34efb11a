-- MultiTenant PostgreSQL schema: per-tenant labels (issue 13, PUT /api/tenants/{business_id}). Applied like the earlier versions
-- (one transaction, advisory lock, search_path set to the configured schema).

-- One row per tenant that has labels: a JSON object of at most 16 string labels (the limits of TenantLabels are checked by the
-- library before a write; the CHECK keeps anything but an object out). A tenant without labels has no row. Every host of a fleet
-- reads the same row, so a label set through one host is returned by all. Like tenant_status (and unlike client_state) the table
-- has no row-level security policy: the admin's list of statuses reads the labels of many tenants in one query.
CREATE TABLE tenant_labels (
    business_id text COLLATE "C" NOT NULL PRIMARY KEY CHECK (char_length(business_id) BETWEEN 1 AND 64),
    labels      jsonb       NOT NULL CHECK (jsonb_typeof(labels) = 'object'),
    updated_at  timestamptz NOT NULL
);
