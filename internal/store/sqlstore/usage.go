package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Usage is what a database holds and how much space it takes: what a soak
// test needs to explain the database's growth (N objects × their size, the
// event log within its retention, the index).
type Usage struct {
	// SizeBytes is the database's size: SQLite's pages (the main file, not
	// its WAL), PostgreSQL's pg_database_size.
	SizeBytes int64 `json:"sizeBytes"`
	// FreeBytes is space inside SizeBytes that the database will reuse
	// (SQLite's free pages, e.g. after event compaction); 0 on PostgreSQL.
	FreeBytes int64 `json:"freeBytes"`
	// Objects are the current objects by kind.
	Objects map[string]Rows `json:"objects"`
	// Events are the event log's rows by kind (compaction keeps the newest
	// DefaultMinEvents and everything younger than DefaultEventRetention).
	Events map[string]Rows `json:"events"`
	// IndexRows counts label, field and owner index entries.
	IndexRows int64 `json:"indexRows"`
}

// Rows counts rows and the bytes of their stored documents (metadata and
// JSON data).
type Rows struct {
	Count int64 `json:"count"`
	Bytes int64 `json:"bytes"`
}

// ReadUsage opens the database at url (as Open takes it) read-only, reads
// its Usage and closes it. It is safe while a server uses the database: it
// neither migrates nor writes.
func ReadUsage(ctx context.Context, url string) (*Usage, error) {
	db, d, err := openReadOnly(url)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	u := &Usage{}
	if u.Objects, err = rowsByKind(ctx, db, d, "objects"); err != nil {
		return nil, err
	}
	if u.Events, err = rowsByKind(ctx, db, d, "events"); err != nil {
		return nil, err
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM object_index`).Scan(&u.IndexRows); err != nil {
		return nil, fmt.Errorf("counting index rows: %w", err)
	}
	if err := readSize(ctx, db, d, u); err != nil {
		return nil, err
	}
	return u, nil
}

func openReadOnly(url string) (*sql.DB, *dialect, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		db, err := openPostgresPool(url, 1, map[string]string{"default_transaction_read_only": "on"})
		return db, postgresDialect, err
	case strings.Contains(url, "://") && !strings.HasPrefix(url, "sqlite://"):
		return nil, nil, fmt.Errorf("unsupported database URL scheme in %q", url)
	}
	path := strings.TrimPrefix(url, "sqlite://")
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, nil, fmt.Errorf("unusable SQLite path %q", path)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&"+sqliteReader)
	if err != nil {
		return nil, nil, fmt.Errorf("opening SQLite %s: %w", path, err)
	}
	configurePool(db, 1)
	return db, sqliteDialect, nil
}

// rowsByKind counts table's rows and document bytes per kind.
func rowsByKind(ctx context.Context, db *sql.DB, d *dialect, table string) (map[string]Rows, error) {
	size := "octet_length(meta) + octet_length(data)"
	if d == sqliteDialect {
		size = "length(CAST(meta AS BLOB)) + length(data)"
	}
	rows, err := db.QueryContext(ctx, `SELECT kind, count(*), coalesce(sum(`+size+`), 0) FROM `+table+` GROUP BY kind`)
	if err != nil {
		return nil, fmt.Errorf("reading %s usage: %w", table, err)
	}
	defer rows.Close()
	out := map[string]Rows{}
	for rows.Next() {
		var kind string
		var r Rows
		if err := rows.Scan(&kind, &r.Count, &r.Bytes); err != nil {
			return nil, fmt.Errorf("reading %s usage: %w", table, err)
		}
		out[kind] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s usage: %w", table, err)
	}
	return out, nil
}

func readSize(ctx context.Context, db *sql.DB, d *dialect, u *Usage) error {
	if d == postgresDialect {
		err := db.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&u.SizeBytes)
		if err != nil {
			return fmt.Errorf("reading the database size: %w", err)
		}
		return nil
	}
	var pages, free, pageSize int64
	for q, v := range map[string]*int64{"page_count": &pages, "freelist_count": &free, "page_size": &pageSize} {
		if err := db.QueryRowContext(ctx, `PRAGMA `+q).Scan(v); err != nil {
			return fmt.Errorf("reading SQLite %s: %w", q, err)
		}
	}
	u.SizeBytes, u.FreeBytes = pages*pageSize, free*pageSize
	return nil
}

// Total sums rows over kinds.
func Total(m map[string]Rows) Rows {
	var t Rows
	for _, r := range m {
		t.Count += r.Count
		t.Bytes += r.Bytes
	}
	return t
}
