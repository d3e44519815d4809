package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/store"
)

// eventTimeout bounds every wait for an event.
const eventTimeout = 15 * time.Second

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// obj builds an object; labels are given as "k=v" pairs.
func obj(kind, ns, name string, labels ...string) *store.Object {
	o := &store.Object{Kind: kind, Namespace: ns, Name: name,
		Data: fmt.Appendf(nil, `{"name": %q}`, name)}
	for _, kv := range labels {
		k, v, _ := cutEq(kv)
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		o.Labels[k] = v
	}
	return o
}

func cutEq(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func mustCreate(t *testing.T, s store.Store, o *store.Object) *store.Object {
	t.Helper()
	got, err := s.Create(ctxT(t), o)
	if err != nil {
		t.Fatalf("Create(%s): %v", o.Key(), err)
	}
	return got
}

func mustRV(t *testing.T, s store.Store) int64 {
	t.Helper()
	rv, err := s.CurrentRV(ctxT(t))
	if err != nil {
		t.Fatalf("CurrentRV: %v", err)
	}
	return rv
}

// seed creates objects in batches of up to 500.
func seed(t *testing.T, s store.Store, objs []*store.Object) {
	t.Helper()
	for start := 0; start < len(objs); start += 500 {
		end := min(start+500, len(objs))
		ops := make([]store.Op, 0, end-start)
		for _, o := range objs[start:end] {
			ops = append(ops, store.Op{Type: store.OpCreate, Object: o})
		}
		if _, err := s.Batch(ctxT(t), ops); err != nil {
			t.Fatalf("seeding: %v", err)
		}
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// sameObject compares the caller-visible content of two objects (nil and
// empty collections are equal).
func sameObject(t *testing.T, what string, got, want *store.Object) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: got nil object", what)
	}
	if got.Key() != want.Key() || got.UID != want.UID || got.ResourceVersion != want.ResourceVersion {
		t.Fatalf("%s: got %s uid=%s rv=%d, want %s uid=%s rv=%d", what, got.Key(), got.UID,
			got.ResourceVersion, want.Key(), want.UID, want.ResourceVersion)
	}
	if !maps.Equal(got.Labels, want.Labels) || !maps.Equal(got.Fields, want.Fields) ||
		!slices.Equal(got.OwnerUIDs, want.OwnerUIDs) || !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("%s: content differs:\n got %+v (data %q)\nwant %+v (data %q)", what, got, got.Data, want, want.Data)
	}
}

func names(objs []*store.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Namespace + "/" + o.Name
	}
	return out
}

// listAll pages through a filter with the given page size.
func listAll(t *testing.T, s store.Store, f store.Filter, limit int) []*store.Object {
	t.Helper()
	return listAllOpts(t, s, store.ListOptions{Filter: f, Limit: limit})
}

// listAllOpts follows continue tokens from opts to the end.
func listAllOpts(t *testing.T, s store.Store, opts store.ListOptions) []*store.Object {
	t.Helper()
	var all []*store.Object
	limit := opts.Limit
	for range 100000 {
		res, err := s.List(ctxT(t), opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", opts, err)
		}
		if limit > 0 && len(res.Items) > limit {
			t.Fatalf("List returned %d items, limit %d", len(res.Items), limit)
		}
		all = append(all, res.Items...)
		if res.Continue == "" {
			return all
		}
		opts.Continue = res.Continue
	}
	t.Fatal("pagination did not end")
	return nil
}

func watch(t *testing.T, s store.Store, opts store.WatchOptions) store.Watcher {
	t.Helper()
	w, err := s.Watch(ctxT(t), opts)
	if err != nil {
		t.Fatalf("Watch(%+v): %v", opts, err)
	}
	t.Cleanup(w.Stop)
	return w
}

// next waits for one event.
func next(t *testing.T, w store.Watcher) store.Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if !ok {
			t.Fatalf("watch ended early: %v", w.Err())
		}
		return ev
	case <-time.After(eventTimeout):
		t.Fatal("timed out waiting for an event")
	}
	return store.Event{}
}

// collectN reads n events and checks that their versions strictly increase.
func collectN(t *testing.T, w store.Watcher, n int) []store.Event {
	t.Helper()
	evs := make([]store.Event, 0, n)
	for len(evs) < n {
		ev := next(t, w)
		if len(evs) > 0 && ev.Object.ResourceVersion <= evs[len(evs)-1].Object.ResourceVersion {
			t.Fatalf("event %d: version %d after %d", len(evs), ev.Object.ResourceVersion,
				evs[len(evs)-1].Object.ResourceVersion)
		}
		evs = append(evs, ev)
	}
	return evs
}

// noEvent checks that nothing arrives within d.
func noEvent(t *testing.T, w store.Watcher, d time.Duration) {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if ok {
			t.Fatalf("unexpected event %s %s rv=%d", ev.Type, ev.Object.Key(), ev.Object.ResourceVersion)
		}
		t.Fatalf("watch ended: %v", w.Err())
	case <-time.After(d):
	}
}

func eventNames(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = string(ev.Type) + " " + ev.Object.Name
	}
	return out
}

func req(key string, op store.Operator, values ...string) store.Requirement {
	return store.Requirement{Key: key, Operator: op, Values: values}
}

// goWriters runs fn(g) for g in [0, n) concurrently and returns a function
// that waits for them and fails the test on the first error.
func goWriters(t *testing.T, n int, fn func(g int) error) (wait func()) {
	t.Helper()
	errs := make(chan error, n)
	for g := range n {
		go func() { errs <- fn(g) }()
	}
	return func() {
		t.Helper()
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
}
