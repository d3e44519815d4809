package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" database/sql driver (migrations)
	_ "modernc.org/sqlite"           // registers the "sqlite" database/sql driver

	"github.com/kilnbuild/kiln/internal/store"
)

// Defaults for zero store.Options fields.
const (
	DefaultEventRetention = 15 * time.Minute
	DefaultMinEvents      = 10000
	DefaultPollInterval   = 100 * time.Millisecond
)

// SQLite connection settings. The writer pool has one connection (SQLite
// allows one writer; queueing in Go beats spinning on SQLITE_BUSY) and
// begins IMMEDIATE transactions so that even another process writing the same
// file cannot interleave with a write transaction. Readers use WAL snapshots;
// each reader connection has its own page cache, 8 MB (at 16 MB, reading all
// of 100,000 objects filled the caches of the 4 readers and put 40–70 MiB on
// the server's peak RSS; the OS page cache serves what they miss).
const (
	sqliteCommon = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	sqliteWriter = sqliteCommon + "&_pragma=journal_mode(WAL)&_pragma=cache_size(-32000)&_txlock=immediate"
	sqliteReader = sqliteCommon + "&_pragma=query_only(1)&_pragma=cache_size(-8000)&_pragma=temp_store(MEMORY)"
)

// Open opens a store by URL: postgres:// and postgresql:// select
// PostgreSQL (the URL is the DSN); sqlite://PATH or a plain file path select
// SQLite.
func Open(ctx context.Context, url string, opts store.Options) (store.Store, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return OpenPostgres(ctx, url, opts)
	case strings.HasPrefix(url, "sqlite://"):
		return OpenSQLite(ctx, strings.TrimPrefix(url, "sqlite://"), opts)
	case strings.Contains(url, "://"):
		return nil, fmt.Errorf("%w: unsupported store URL scheme in %q", store.ErrInvalid, url)
	default:
		return OpenSQLite(ctx, url, opts)
	}
}

// OpenSQLite opens (creating if missing) the SQLite database file at path
// and applies pending migrations.
func OpenSQLite(ctx context.Context, path string, opts store.Options) (store.Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, ":memory:") {
		return nil, fmt.Errorf("%w: unusable SQLite path %q", store.ErrInvalid, path)
	}
	if err := migrateDSN(ctx, sqliteDialect, "sqlite", path+"?"+sqliteWriter); err != nil {
		return nil, err
	}
	wdb, err := sql.Open("sqlite", path+"?"+sqliteWriter)
	if err != nil {
		return nil, fmt.Errorf("opening SQLite %s: %w", path, err)
	}
	configurePool(wdb, 1)
	rdb, err := sql.Open("sqlite", path+"?"+sqliteReader)
	if err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("opening SQLite %s: %w", path, err)
	}
	configurePool(rdb, max(4, 2*runtime.GOMAXPROCS(0)))
	s, err := newStore(ctx, sqliteDialect, wdb, rdb, wdb, opts)
	if err != nil {
		return nil, fmt.Errorf("opening SQLite %s: %w", path, err)
	}
	return s, nil
}

// OpenPostgres opens the PostgreSQL database at dsn (URL or key=value form)
// and applies pending migrations. Several processes may share the database.
func OpenPostgres(ctx context.Context, dsn string, opts store.Options) (store.Store, error) {
	if dsn == "" {
		return nil, fmt.Errorf("%w: empty PostgreSQL DSN", store.ErrInvalid)
	}
	if err := migrateDSN(ctx, postgresDialect, "pgx", dsn); err != nil {
		return nil, err
	}
	// The writer's statements are primary-key work whose plans never depend
	// on their arguments; left to choose, PostgreSQL replans several of them
	// on every execution.
	wdb, err := openPostgresPool(dsn, 1, map[string]string{"plan_cache_mode": "force_generic_plan"})
	if err != nil {
		return nil, err
	}
	rdb, err := openPostgresPool(dsn, max(8, 4*runtime.GOMAXPROCS(0)), nil)
	if err != nil {
		_ = wdb.Close()
		return nil, err
	}
	s, err := newStore(ctx, postgresDialect, wdb, rdb, rdb, opts)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL: %w", err)
	}
	s.wg.Add(1)
	go s.listen(dsn)
	return s, nil
}

// openPostgresPool opens a pool of n connections with extra session settings.
func openPostgresPool(dsn string, n int, settings map[string]string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL: %w", err)
	}
	maps.Copy(cfg.RuntimeParams, settings)
	db := stdlib.OpenDB(*cfg)
	configurePool(db, n)
	return db, nil
}

func configurePool(db *sql.DB, n int) {
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
}

// newStore starts the writer, hub and compactor over opened pools. On error
// it closes the pools.
func newStore(ctx context.Context, d *dialect, wdb, rdb, cdb *sql.DB, opts store.Options) (*Store, error) {
	stmts, reads, rv, err := prepareStore(ctx, d, wdb, rdb)
	if err != nil {
		_ = wdb.Close()
		_ = rdb.Close()
		return nil, err
	}
	opts = withDefaults(opts)
	s := &Store{d: d, opts: opts, wdb: wdb, rdb: rdb, cdb: cdb, stmts: stmts, reads: reads,
		writes: make(chan *writeReq, writeQueue), writerDone: make(chan struct{}),
		watchQueue: watchQueue}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.hub = newHub(s, rv, opts.PollInterval)
	go s.runWriter()
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.hub.run(s.ctx) }()
	go s.runCompactor(compactInterval(opts.EventRetention))
	return s, nil
}

// prepareStore checks the connection, reads the current version and
// prepares the statements of the writer and of point reads.
func prepareStore(ctx context.Context, d *dialect, wdb, rdb *sql.DB) (w, r *stmtCache, rv int64, err error) {
	if err := rdb.PingContext(ctx); err != nil {
		return nil, nil, 0, fmt.Errorf("connecting: %w", err)
	}
	if rv, err = readRV(ctx, rdb); err != nil {
		return nil, nil, 0, err
	}
	if w, err = prepareAll(ctx, wdb, writerQueries(d)); err != nil {
		return nil, nil, 0, err
	}
	if r, err = prepareAll(ctx, rdb, []string{sqlGetObject}); err != nil {
		_ = w.close()
		return nil, nil, 0, err
	}
	return w, r, rv, nil
}

func withDefaults(o store.Options) store.Options {
	if o.EventRetention == 0 {
		o.EventRetention = DefaultEventRetention
	}
	o.EventRetention = max(o.EventRetention, 0)
	if o.MinEvents == 0 {
		o.MinEvents = DefaultMinEvents
	}
	o.MinEvents = max(o.MinEvents, 0)
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	return o
}
