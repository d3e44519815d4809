package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kilnbuild/kiln/internal/pgtest"
	"github.com/kilnbuild/kiln/internal/store"
)

func openBoth(t *testing.T) map[string]*Store {
	t.Helper()
	lite, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "kiln.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lite.Close() })
	return map[string]*Store{"sqlite": lite.(*Store), "postgres": openPostgres(t, pgtest.Start(t))}
}

func openPostgres(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := OpenPostgres(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.(*Store)
}

func newReq(ops ...store.Op) *writeReq {
	return &writeReq{ctx: context.Background(), ops: ops, done: make(chan writeResult, 1)}
}

func labelled(name, label string, rv int64) *store.Object {
	return &store.Object{Kind: "K", Namespace: "ns", Name: name, ResourceVersion: rv,
		Labels: map[string]string{"x": label}, Data: []byte(name + label)}
}

func op(typ store.OpType, o *store.Object) store.Op { return store.Op{Type: typ, Object: o} }

// outcome summarises a request's result: its versions, or the failure and,
// for a batch, the failing op.
func outcome(r writeResult) string {
	var oe *store.OpError
	switch {
	case errors.As(r.err, &oe):
		return fmt.Sprintf("op %d: %v", oe.Index, sentinel(oe.Err))
	case r.err != nil:
		return "error: " + r.err.Error()
	}
	var rvs []string
	for _, o := range r.objs {
		rvs = append(rvs, fmt.Sprint(o.ResourceVersion))
	}
	return strings.Join(rvs, ",")
}

func sentinel(err error) error {
	for _, s := range []error{store.ErrNotFound, store.ErrAlreadyExists, store.ErrConflict, store.ErrInvalid} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

// TestWriteGroup commits one group whose requests depend on each other and
// on failing requests, and checks both writers decide it alike: failed
// requests change nothing, versions stay contiguous, the index follows.
func TestWriteGroup(t *testing.T) {
	t.Parallel()
	for name, s := range openBoth(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b, err := s.Create(ctx, labelled("b", "1", 0))
			if err != nil {
				t.Fatal(err)
			}
			v := b.ResourceVersion
			group := []*writeReq{
				newReq(op(store.OpCreate, labelled("a", "1", 0))),
				newReq(op(store.OpUpdate, labelled("a", "2", v+1))),
				newReq(op(store.OpUpdate, labelled("a", "3", 0)), op(store.OpCreate, labelled("a", "3", 0))),
				newReq(op(store.OpDelete, labelled("a", "", v+2))),
				newReq(op(store.OpUpdate, labelled("a", "5", 0))),
				newReq(op(store.OpCreate, labelled("a", "4", 0))),
				newReq(op(store.OpUpdate, labelled("b", "6", v+100))),
				newReq(op(store.OpDelete, labelled("b", "", 0)), op(store.OpCreate, labelled("b", "5", 0))),
				newReq(op(store.OpDelete, labelled("c", "", 0))),
			}
			s.commitGroup(group)
			var got []string
			for _, r := range group {
				got = append(got, outcome(<-r.done))
			}
			want := []string{fmt.Sprint(v + 1), fmt.Sprint(v + 2), "op 1: " + store.ErrAlreadyExists.Error(),
				fmt.Sprint(v + 3), "op 0: " + store.ErrNotFound.Error(), fmt.Sprint(v + 4),
				"op 0: " + store.ErrConflict.Error(), fmt.Sprintf("%d,%d", v+5, v+6), "op 0: " + store.ErrNotFound.Error()}
			if !slices.Equal(got, want) {
				t.Fatalf("outcomes\n got %q\nwant %q", got, want)
			}
			checkGroupState(t, s, v)
		})
	}
}

func checkGroupState(t *testing.T, s *Store, v int64) {
	t.Helper()
	ctx := context.Background()
	w, err := s.Watch(ctx, store.WatchOptions{Filter: store.Filter{Kind: "K"}, SinceRV: v})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var evs []string
	for i := range 6 {
		ev := <-w.Events()
		if ev.Object == nil || ev.Object.ResourceVersion != v+1+int64(i) {
			t.Fatalf("event %d: %+v (%v)", i, ev, w.Err())
		}
		evs = append(evs, fmt.Sprintf("%s %s %s %s", ev.Type, ev.Object.Name, ev.Object.Labels["x"], ev.Object.Data))
	}
	want := []string{"ADDED a 1 a1", "MODIFIED a 2 a2", "DELETED a 2 a2", "ADDED a 4 a4", "DELETED b 1 b1", "ADDED b 5 b5"}
	if !slices.Equal(evs, want) {
		t.Fatalf("events\n got %q\nwant %q", evs, want)
	}
	for label, names := range map[string][]string{"1": nil, "2": nil, "3": nil, "4": {"a"}, "5": {"b"}} {
		res, err := s.List(ctx, store.ListOptions{Filter: store.Filter{Kind: "K",
			Labels: []store.Requirement{{Key: "x", Operator: store.OpEquals, Values: []string{label}}}}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range res.Items {
			got = append(got, o.Name)
		}
		if !slices.Equal(got, names) || res.ResourceVersion != v+6 {
			t.Fatalf("x=%s lists %v at %d, want %v at %d", label, got, res.ResourceVersion, names, v+6)
		}
	}
}

// TestPostgresGroupIsolatesDatabaseErrors: a request PostgreSQL rejects
// (an index entry too large for a B-tree) fails alone.
func TestPostgresGroupIsolatesDatabaseErrors(t *testing.T) {
	t.Parallel()
	s := openPostgres(t, pgtest.Start(t))
	random := make([]byte, 8000) // incompressible, unlike strings.Repeat
	_, _ = rand.Read(random)
	huge := labelled("huge", hex.EncodeToString(random), 0)
	group := []*writeReq{newReq(op(store.OpCreate, labelled("a", "1", 0))),
		newReq(op(store.OpCreate, huge)), newReq(op(store.OpCreate, labelled("b", "1", 0)))}
	s.commitGroup(group)
	var got []string
	for _, r := range group {
		got = append(got, outcome(<-r.done))
	}
	if got[0] != "1" || got[2] != "2" || !strings.Contains(got[1], "error: writing K/ns/huge") {
		t.Fatalf("outcomes %q", got)
	}
	if rv, err := s.CurrentRV(context.Background()); err != nil || rv != 2 {
		t.Fatalf("CurrentRV = %d, %v; want 2", rv, err)
	}
}

// TestPostgresWritesCheckVersion runs the write statements against rows
// that are not as the writer read them: each must fail, not write.
func TestPostgresWritesCheckVersion(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t)
	a, err := openPostgres(t, dsn).Create(context.Background(), labelled("a", "1", 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	k, stale := a.Key(), a.ResourceVersion+1
	for name, c := range map[string]struct {
		sql  string
		args []any
		code string
	}{
		"create": {pgCreate, []any{k.Kind, k.Namespace, k.Name, "u", 2, "{}", []byte{}, "[]", 0}, "23505"},
		"update": {pgUpdate, []any{k.Kind, k.Namespace, k.Name, 2, "{}", []byte{}, 0, a.UID, stale}, "23502"},
		"update indexed": {pgUpdateIndexed, []any{k.Kind, k.Namespace, k.Name, 2, "{}", []byte{}, 0, a.UID, stale,
			`[["l:x","1"]]`, "[]"}, "23502"},
		"delete": {pgDelete, []any{k.Kind, k.Namespace, k.Name, stale, `[["l:x","1"]]`, 2, 0, a.UID, "{}", []byte{}}, "23502"},
	} {
		var pe *pgconn.PgError
		if _, err := conn.Exec(ctx, c.sql, c.args...); !errors.As(err, &pe) || pe.Code != c.code {
			t.Errorf("%s: got %v, want SQLSTATE %s", name, err, c.code)
		}
	}
	var rv, entries, events int64
	err = conn.QueryRow(ctx, `SELECT (SELECT rv FROM objects), (SELECT count(*) FROM object_index),
		(SELECT count(*) FROM events)`).Scan(&rv, &entries, &events)
	if err != nil || rv != a.ResourceVersion || entries != 1 || events != 1 {
		t.Fatalf("after the failed writes: rv %d, %d index rows, %d events (%v); want %d, 1, 1",
			rv, entries, events, err, a.ResourceVersion)
	}
}

// TestPostgresNotifyWithoutPolling: two stores on one database, as two
// processes, with polling practically off: every event must still reach
// both watchers, in order, through NOTIFY and in-memory hand-over alone.
func TestPostgresNotifyWithoutPolling(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t)
	opts := store.Options{PollInterval: time.Hour}
	var stores []*Store
	var watchers []store.Watcher
	for range 2 {
		s, err := OpenPostgres(context.Background(), dsn, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		w, err := s.Watch(context.Background(), store.WatchOptions{Filter: store.Filter{Kind: "K"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		stores, watchers = append(stores, s.(*Store)), append(watchers, w)
	}
	const writers, each = 4, 50
	errs := make(chan error, writers)
	for g := range writers {
		go func() {
			for i := range each {
				if _, err := stores[g%2].Create(context.Background(), labelled(fmt.Sprintf("w%d-%d", g, i), "1", 0)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, w := range watchers {
		for rv := int64(1); rv <= writers*each; rv++ {
			select {
			case ev := <-w.Events():
				if ev.Object == nil || ev.Object.ResourceVersion != rv {
					t.Fatalf("watcher %d: event %+v, want version %d (%v)", i, ev, rv, w.Err())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("watcher %d: no event %d within 10s", i, rv)
			}
		}
	}
}
