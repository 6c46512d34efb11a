-- MultiTenant PostgreSQL schema: cluster membership for MultiTenant.Orleans (UseOrleansFleet), so an Orleans fleet needs
-- only this database. Our own schema behind Orleans' IMembershipTable contract (MultiTenant.Orleans' PostgreSqlMembershipTable): one
-- version row per cluster, whose etag every membership change advances under optimistic concurrency, and one row per silo incarnation.
-- These tables describe silos, not tenants, so they have no business_id. Unused (and empty) without UseOrleansFleet.

CREATE TABLE orleans_clusters (
    cluster_id text COLLATE "C" PRIMARY KEY CHECK (char_length(cluster_id) BETWEEN 1 AND 256),
    version    integer NOT NULL DEFAULT 0,
    etag       bigint  NOT NULL DEFAULT 0
);

-- address: the silo's endpoint and generation (Orleans' parsable form), which names one incarnation of a silo.
-- suspect_silos/suspect_times: the suspicion votes, pairwise by index.
CREATE TABLE orleans_silos (
    cluster_id      text COLLATE "C" NOT NULL REFERENCES orleans_clusters (cluster_id) ON DELETE CASCADE,
    address         text COLLATE "C" NOT NULL,
    status          integer     NOT NULL,
    proxy_port      integer     NOT NULL,
    host_name       text        NOT NULL,
    silo_name       text        NOT NULL,
    role_name       text,
    update_zone     integer     NOT NULL DEFAULT 0,
    fault_zone      integer     NOT NULL DEFAULT 0,
    start_time      timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,
    suspect_silos   text[]      NOT NULL DEFAULT '{}',
    suspect_times   timestamptz[] NOT NULL DEFAULT '{}',
    etag            bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (cluster_id, address),
    CHECK (cardinality(suspect_silos) = cardinality(suspect_times))
);
