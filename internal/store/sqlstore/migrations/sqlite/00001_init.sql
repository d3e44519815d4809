-- +goose Up
-- objects holds the current state of every object. The rowid (id) keeps rows
-- compact; lookups and keyset pagination use the UNIQUE index.
CREATE TABLE objects (
    id        INTEGER PRIMARY KEY,
    kind      TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    uid       TEXT    NOT NULL,
    rv        INTEGER NOT NULL,
    meta      TEXT    NOT NULL,
    data      BLOB    NOT NULL,
    UNIQUE (kind, namespace, name)
);

-- object_index holds one row per label ("l:KEY"), field ("f:KEY") and owner
-- ("o:", value = owner UID). Its primary key serves selectors and owner
-- lookups as range scans already ordered by (namespace, name).
CREATE TABLE object_index (
    kind      TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    PRIMARY KEY (kind, key, value, namespace, name)
) WITHOUT ROWID;

-- events is the ordered change log that watchers resume from.
CREATE TABLE events (
    rv        INTEGER PRIMARY KEY,
    ts        INTEGER NOT NULL,
    type      TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    uid       TEXT    NOT NULL,
    meta      TEXT    NOT NULL,
    data      BLOB    NOT NULL
);
CREATE INDEX events_ts ON events (ts);

-- store_counters: "rv" is the last assigned resource version, "compacted" the
-- highest resource version whose events may have been deleted.
CREATE TABLE store_counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO store_counters (name, value) VALUES ('rv', 0), ('compacted', 0);

-- +goose Down
DROP TABLE store_counters;
DROP TABLE events;
DROP TABLE object_index;
DROP TABLE objects;
