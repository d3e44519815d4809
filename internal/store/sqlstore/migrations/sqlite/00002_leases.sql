-- +goose Up
-- leases are named, expiring holds (internal/lease): the leader lease and
-- build claims. Expiry is in milliseconds of the database's clock; token
-- grows on every change of holder (fencing). Writes to leases make no
-- events.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    token      INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE leases;
