-- +goose Up
-- The trace index (internal/lineage): nodes, the records and sources that
-- assert edges, and the edges. Its goose history is kiln_lineage_migrations.
-- Text columns use the "C" collation, as the store's tables do.

-- lineage_nodes: one row per thing, unique by (kind, key, namespace); alt is
-- a second lookup value (a commit's sha, an artifact's digest, a package's
-- versionless purl).
CREATE TABLE lineage_nodes (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind      TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    key       TEXT COLLATE "C" NOT NULL,
    alt       TEXT COLLATE "C" NOT NULL,
    label     TEXT NOT NULL,
    attrs     TEXT NOT NULL DEFAULT '',
    UNIQUE (kind, key, namespace)
);
CREATE INDEX lineage_nodes_alt ON lineage_nodes (kind, alt, namespace);
CREATE INDEX lineage_nodes_namespace ON lineage_nodes (namespace);

-- lineage_records: the objects that assert edges, with the version indexed.
CREATE TABLE lineage_records (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind      TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    version   TEXT NOT NULL,
    UNIQUE (kind, namespace, name)
);
CREATE INDEX lineage_records_namespace ON lineage_records (namespace);

-- lineage_sources: one piece of evidence of a record and its trust.
CREATE TABLE lineage_sources (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id BIGINT NOT NULL,
    origin    TEXT NOT NULL,
    trust     TEXT NOT NULL,
    key_id    TEXT NOT NULL DEFAULT '',
    reason    TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX lineage_sources_record ON lineage_sources (record_id);

-- lineage_edges: ingredient (from) → product (to). The primary key serves
-- walks down, lineage_edges_to walks up (index-only scans).
CREATE TABLE lineage_edges (
    from_id   BIGINT NOT NULL,
    to_id     BIGINT NOT NULL,
    kind      TEXT COLLATE "C" NOT NULL,
    source_id BIGINT NOT NULL,
    PRIMARY KEY (from_id, to_id, kind, source_id)
);
CREATE INDEX lineage_edges_to ON lineage_edges (to_id, from_id, kind, source_id);
CREATE INDEX lineage_edges_source ON lineage_edges (source_id);

-- +goose Down
DROP TABLE lineage_edges;
DROP TABLE lineage_sources;
DROP TABLE lineage_records;
DROP TABLE lineage_nodes;
