// Package pgtest runs a real PostgreSQL server for tests.
//
// Start(t) returns the DSN of a fresh, empty database. Where it comes from:
//
//   - KILN_TEST_POSTGRES_DSN set: that server; Start creates a database on it
//     per test (the role needs CREATEDB) and drops it at cleanup.
//   - otherwise a throw-away cluster built with initdb/pg_ctl from PATH (or
//     /usr/lib/postgresql/*/bin). With Main in TestMain one cluster serves the
//     whole test binary (a database per test); without it each Start starts
//     and stops its own cluster, which is slower.
//
// When PostgreSQL is unavailable the test is skipped, unless CI=true or
// KILN_REQUIRE_POSTGRES=1, in which case it fails.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by this package.
const (
	EnvDSN     = "KILN_TEST_POSTGRES_DSN"
	EnvRequire = "KILN_REQUIRE_POSTGRES"
)

var (
	sharedMode bool // set by Main
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
	dbCounter  atomic.Int64
)

// Main runs the tests of a package against one shared cluster, started on
// first use and stopped when the tests end. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	sharedMode = true
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// Start returns the DSN of a new, empty database that lives until the test
// ends, or skips (or fails, see the package doc) the test when PostgreSQL is
// unavailable.
func Start(t testing.TB) string {
	t.Helper()
	server, err := serverDSN(t)
	if errors.Is(err, ErrNotInstalled) {
		unavailable(t, err)
	}
	if err != nil {
		t.Fatalf("pgtest: starting PostgreSQL: %v", err)
	}
	name := fmt.Sprintf("kiln_test_%d_%d", os.Getpid(), dbCounter.Add(1))
	if err := execSQL(server, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := execSQL(server, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: dropping database %s: %v", name, err)
		}
	})
	dsn, err := WithDatabase(server, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// serverDSN returns the DSN of a maintenance database on the server to use.
func serverDSN(t testing.TB) (string, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn, nil
	}
	if sharedMode {
		sharedOnce.Do(func() { shared, sharedErr = StartCluster() })
		if sharedErr != nil {
			return "", sharedErr
		}
		return shared.DSN, nil
	}
	c, err := StartCluster()
	if err != nil {
		return "", err
	}
	t.Cleanup(c.Stop)
	return c.DSN, nil
}

// unavailable skips the test, or fails it where PostgreSQL is required.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if Required() {
		t.Fatalf("pgtest: PostgreSQL is required (CI=true or %s=1) but unavailable: %v", EnvRequire, err)
	}
	t.Skipf("pgtest: PostgreSQL unavailable, skipping (set %s to use a server): %v", EnvDSN, err)
}

// Required reports whether a missing PostgreSQL must fail tests.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv(EnvRequire) == "1"
}

// WithDatabase returns dsn (URL or key=value form) pointing at database name.
func WithDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parsing DSN: %w", err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	return dsn + " dbname=" + name, nil
}

// execSQL runs one statement on the server's maintenance database.
func execSQL(dsn, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, stmt)
	return err
}
