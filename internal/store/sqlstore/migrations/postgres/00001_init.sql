-- +goose Up
-- All text columns use the "C" collation so that ORDER BY and row-value
-- comparisons are bytewise, matching the keyset continue tokens and SQLite.

-- objects holds the current state of every object.
CREATE TABLE objects (
    kind      TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    uid       TEXT   NOT NULL,
    rv        BIGINT NOT NULL,
    meta      TEXT   NOT NULL,
    data      BYTEA  NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);

-- object_index holds one row per label ("l:KEY"), field ("f:KEY") and owner
-- ("o:", value = owner UID). Its primary key serves selectors and owner
-- lookups as range scans already ordered by (namespace, name).
CREATE TABLE object_index (
    kind      TEXT COLLATE "C" NOT NULL,
    key       TEXT COLLATE "C" NOT NULL,
    value     TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (kind, key, value, namespace, name)
);

-- events is the ordered change log that watchers resume from.
CREATE TABLE events (
    rv        BIGINT PRIMARY KEY,
    ts        BIGINT NOT NULL,
    type      TEXT   NOT NULL,
    kind      TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    uid       TEXT   NOT NULL,
    meta      TEXT   NOT NULL,
    data      BYTEA  NOT NULL
);
CREATE INDEX events_ts ON events (ts, rv);

-- store_counters: "rv" is the last assigned resource version (its row lock
-- serialises writers, so commits become visible in resource-version order);
-- "compacted" is the highest resource version whose events may be deleted.
CREATE TABLE store_counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO store_counters (name, value) VALUES ('rv', 0), ('compacted', 0);

-- +goose Down
DROP TABLE store_counters;
DROP TABLE events;
DROP TABLE object_index;
DROP TABLE objects;
