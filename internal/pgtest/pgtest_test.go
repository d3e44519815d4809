package pgtest

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestStartGivesFreshDatabases(t *testing.T) {
	t.Parallel()
	a, b := Start(t), Start(t)
	if a == b {
		t.Fatalf("two Start calls returned the same DSN %q", a)
	}
	for _, dsn := range []string{a, b} {
		if err := execSQL(dsn, "CREATE TABLE t (x int)"); err != nil {
			t.Fatalf("database %s is not usable or not empty: %v", dsn, err)
		}
	}
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"postgres://u@h:5/postgres?sslmode=disable": "postgres://u@h:5/x?sslmode=disable",
		"host=h user=u": "host=h user=u dbname=x",
	}
	for in, want := range cases {
		got, err := WithDatabase(in, "x")
		if err != nil || got != want {
			t.Errorf("WithDatabase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
