-- +goose Up
-- leases are named, expiring holds shared by every Kiln process on the
-- database (internal/lease): the leader lease and build claims. Expiry is
-- in milliseconds of the database's clock; token grows on every change of
-- holder (fencing). Writes to leases make no events.
CREATE TABLE leases (
    name       TEXT COLLATE "C" PRIMARY KEY,
    holder     TEXT   NOT NULL,
    token      BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);

-- +goose Down
DROP TABLE leases;
