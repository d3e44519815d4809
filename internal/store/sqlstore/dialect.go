package sqlstore

import (
	"database/sql"

	"github.com/pressly/goose/v3"
)

// dialect holds what differs between the SQL backends. Both drivers accept
// $N placeholders (modernc.org/sqlite binds $N by ordinal), so most
// statements are shared constants below.
type dialect struct {
	name string
	// goose selects the migration dialect; migrations is the directory
	// inside migrationsFS.
	goose      goose.Dialect
	migrations string
	// lockRV reads the resource-version counter at the start of a write
	// transaction, locking it where the database needs that.
	lockRV string
	// insertIndex / deleteIndex take (kind, namespace, name, entries JSON);
	// the pipelined writer has its own statements instead.
	insertIndex string
	deleteIndex string
	// finish stores the new resource version ($1) at the end of a write
	// transaction; on PostgreSQL it also queues the NOTIFY, which the server
	// delivers when the transaction commits.
	finish string
	// pipelined selects the PostgreSQL writer (pgwrite.go), which sends a
	// group as two batches; the others run statement by statement (SQLite
	// runs in-process, where round trips cost nothing).
	pipelined bool
	// readTx are the options of the read transactions of List and Watch
	// catch-up, which must see one snapshot.
	readTx *sql.TxOptions
	// joinDriver joins the index table (alias d) to objects (alias o) so the
	// index drives the plan.
	joinDriver string
	// nowMS is the database's clock in Unix milliseconds (leases).
	nowMS string
}

// notifyChannel is the PostgreSQL channel that carries commit notifications.
const notifyChannel = "kiln_store_events"

var sqliteDialect = &dialect{
	name:       "sqlite",
	goose:      goose.DialectSQLite3,
	migrations: "migrations/sqlite",
	lockRV:     `SELECT value FROM store_counters WHERE name = 'rv'`,
	insertIndex: `INSERT INTO object_index (kind, key, value, namespace, name)
		SELECT $1, json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'), $2, $3
		FROM json_each($4) AS e`,
	deleteIndex: `DELETE FROM object_index
		WHERE kind = $1 AND (key, value, namespace, name) IN (
			SELECT json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]'), $2, $3
			FROM json_each($4) AS e)`,
	finish: sqlSetRV,
	readTx: &sql.TxOptions{ReadOnly: true},
	// CROSS JOIN makes SQLite keep the index table as the outer loop.
	joinDriver: `object_index d CROSS JOIN objects o`,
	nowMS:      `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`,
}

var postgresDialect = &dialect{
	name:       "postgres",
	goose:      goose.DialectPostgres,
	migrations: "migrations/postgres",
	lockRV:     `SELECT value FROM store_counters WHERE name = 'rv' FOR UPDATE`,
	finish: `WITH counter AS (UPDATE store_counters SET value = $1 WHERE name = 'rv')
		SELECT pg_notify('` + notifyChannel + `', $1::text)`,
	pipelined:  true,
	readTx:     &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
	joinDriver: `object_index d CROSS JOIN objects o`,
	nowMS:      `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`,
}

// Statements shared by both dialects.
const (
	sqlSetRV = `UPDATE store_counters SET value = $1 WHERE name = 'rv'`
	sqlGetRV = `SELECT value FROM store_counters WHERE name = 'rv'`

	sqlGetCompacted = `SELECT value FROM store_counters WHERE name = 'compacted'`
	sqlSetCompacted = `UPDATE store_counters SET value = $1
		WHERE name = 'compacted' AND value < $1`

	sqlInsertObject = `INSERT INTO objects (kind, namespace, name, uid, rv, meta, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (kind, namespace, name) DO NOTHING`
	sqlSelectForUpdate = `SELECT uid, rv, meta FROM objects
		WHERE kind = $1 AND namespace = $2 AND name = $3`
	sqlUpdateObject = `UPDATE objects SET rv = $4, meta = $5, data = $6
		WHERE kind = $1 AND namespace = $2 AND name = $3`
	// sqlDeleteObject deletes unless the precondition $4 (0 = none) fails.
	sqlDeleteObject = `DELETE FROM objects
		WHERE kind = $1 AND namespace = $2 AND name = $3 AND ($4 = 0 OR rv = $4)
		RETURNING uid, rv, meta, data`
	sqlSelectRV = `SELECT rv FROM objects
		WHERE kind = $1 AND namespace = $2 AND name = $3`
	sqlGetObject = `SELECT uid, rv, meta, data FROM objects
		WHERE kind = $1 AND namespace = $2 AND name = $3`

	sqlInsertEvent = `INSERT INTO events
		(rv, ts, type, kind, namespace, name, uid, meta, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	// sqlEventsAfter reads the event log in resource-version order.
	sqlEventsAfter = `SELECT rv, type, kind, namespace, name, uid, meta, data
		FROM events WHERE rv > $1 AND rv <= $2 ORDER BY rv LIMIT $3`

	// sqlFirstRecentEvent finds the oldest event that retention must keep.
	sqlFirstRecentEvent = `SELECT rv FROM events WHERE ts >= $1 ORDER BY ts, rv LIMIT 1`
	sqlDeleteEvents     = `DELETE FROM events WHERE rv <= $1`

	sqlSavepoint         = `SAVEPOINT kiln_unit`
	sqlRollbackSavepoint = `ROLLBACK TO SAVEPOINT kiln_unit`
	sqlReleaseSavepoint  = `RELEASE SAVEPOINT kiln_unit`

	// objectColumns are the columns scanRow expects, in order.
	objectColumns = `o.namespace, o.name, o.uid, o.rv, o.meta, o.data`
	// objectColumnsNoMeta is objectColumns with an empty metadata column.
	objectColumnsNoMeta = `o.namespace, o.name, o.uid, o.rv, '', o.data`
)
