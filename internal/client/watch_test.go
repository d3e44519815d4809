package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/apiserver/apitest"
	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/store"
)

type seen struct {
	typ  client.EventType
	name string
}

// collect ranges over a watch until n events arrived or it fails.
func collect(t *testing.T, ctx context.Context, c *client.Client, r client.Resource, ns string, opts client.WatchOptions, n int) []seen {
	t.Helper()
	return collectThen(t, ctx, c, r, ns, opts, n, func(int) {})
}

// collectThen is collect calling then(i) after the i-th event (from 1),
// on the test's goroutine.
func collectThen(t *testing.T, ctx context.Context, c *client.Client, r client.Resource, ns string, opts client.WatchOptions, n int, then func(int)) []seen {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var out []seen
	for ev, err := range c.Watch(ctx, r, ns, opts) {
		if err != nil {
			t.Fatalf("watch failed after %v: %v", out, err)
		}
		out = append(out, seen{ev.Type, ev.Object.Name()})
		if then(len(out)); len(out) == n {
			return out
		}
	}
	t.Fatalf("watch ended after %v, want %d events", out, n)
	return nil
}

func fastBackoff(c *client.Client) {
	c.WatchBackoff = func(int) time.Duration { return time.Millisecond }
}

func TestWatchResumesAfterDisconnect(t *testing.T) {
	srv, c, r := setup(t)
	fastBackoff(c)
	srv.Seed(t, component("a", "x", "shop"))
	start := fmt.Sprint(srv.ResourceVersion(t))
	srv.Seed(t, component("a", "c1", "shop"), component("a", "c2", "shop"), component("a", "c3", "shop"))
	srv.faults.SetMaxEventsPerStream(1) // every stream drops after one event

	got := collect(t, context.Background(), c, r, "a", client.WatchOptions{ListOptions: client.ListOptions{ResourceVersion: start}}, 3)
	want := []seen{{client.Added, "c1"}, {client.Added, "c2"}, {client.Added, "c3"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	var rvs []string
	for _, req := range srv.Requests() {
		if strings.Contains(req, "watch=true") {
			_, rv, _ := strings.Cut(req, "resourceVersion=")
			rv, _, _ = strings.Cut(rv, "&")
			rvs = append(rvs, rv)
		}
	}
	// first from the start, then from each event's resourceVersion
	wantRVs := []string{start, srv.Object(t, "components", "a", "c1").ResourceVersion(), srv.Object(t, "components", "a", "c2").ResourceVersion()}
	if fmt.Sprint(rvs) != fmt.Sprint(wantRVs) {
		t.Errorf("watches started from %v, want %v", rvs, wantRVs)
	}
}

func TestWatchListsFirstWithoutResourceVersion(t *testing.T) {
	srv, c, r := setup(t)
	srv.Seed(t, component("a", "old", "shop"))
	got := collectThen(t, context.Background(), c, r, "a", client.WatchOptions{}, 2, func(i int) {
		if i == 1 { // listed: what comes now, the watch brings
			srv.Seed(t, component("a", "new", "shop"))
		}
	})
	want := []seen{{client.Added, "old"}, {client.Added, "new"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
}

// compacting keeps no event the store may drop: every compaction makes
// all earlier resourceVersions too old to watch from.
var compacting = apitest.WithStore(store.Options{EventRetention: -1, MinEvents: -1})

func testRelistOnGone(t *testing.T, asHTTP bool) {
	srv, c, r := setup(t, compacting)
	fastBackoff(c)
	ctx := context.Background()
	srv.Seed(t, component("a", "keep", "shop"), component("a", "gone", "shop"))
	list, err := c.List(ctx, r, "a", client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"spec":{"application":"blog"}}`)
	if _, err := c.Patch(ctx, r, "a", "keep", client.ContentTypeMergePatch, patch); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, r, "a", "gone", nil); err != nil {
		t.Fatal(err)
	}
	srv.Seed(t, component("a", "added", "shop"))
	srv.faults.SetGoneAsHTTP(asHTTP)
	srv.Compact(t) // list.ResourceVersion is now too old

	opts := client.WatchOptions{ListOptions: client.ListOptions{ResourceVersion: list.ResourceVersion}, Known: list.Items}
	got := collectThen(t, ctx, c, r, "a", opts, 4, func(i int) {
		if i == 3 { // relisted: the next change comes by the new watch
			srv.Seed(t, component("a", "later", "shop"))
		}
	})
	want := []seen{{client.Added, "added"}, {client.Modified, "keep"}, {client.Deleted, "gone"}, {client.Added, "later"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	if n := srv.CountRequests("GET", "/apis/kiln.dev/v1alpha1/namespaces/a/components?limit="); n < 2 {
		t.Errorf("listed %d times, want a relist after Gone", n)
	}
	if injected := len(srv.faults.Injected()) > 0; injected != asHTTP {
		t.Errorf("Gone answered as HTTP 410: %v, want %v", srv.faults.Injected(), asHTTP)
	}
}

func TestWatchRelistsOnGoneEvent(t *testing.T) { testRelistOnGone(t, false) }
func TestWatchRelistsOnGoneHTTP(t *testing.T)  { testRelistOnGone(t, true) }

func TestWatchRetriesServerErrors(t *testing.T) {
	srv, _, _ := setup(t)
	var failed atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") == "true" && failed.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"kind":"Status","code":503,"reason":"ServiceUnavailable","message":"busy"}`))
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	defer proxy.Close()
	cfg := srv.ClientConfig()
	cfg.Server = proxy.URL
	c := client.New(cfg)
	var backoffs []int
	c.WatchBackoff = func(n int) time.Duration { backoffs = append(backoffs, n); return time.Millisecond }
	r, _ := c.ResolveResource(context.Background(), "comp")
	srv.Seed(t, component("a", "x", "shop"))
	got := collect(t, context.Background(), c, r, "a", client.WatchOptions{ListOptions: client.ListOptions{ResourceVersion: "0"}}, 1)
	if got[0].name != "x" || fmt.Sprint(backoffs) != "[1 2]" {
		t.Fatalf("events %v, backoffs %v", got, backoffs)
	}
}

func TestWatchPermanentErrorEnds(t *testing.T) {
	srv, c, r := setup(t)
	cfg := srv.ClientConfig()
	cfg.Token = "kiln_000000000000_revoked"
	c = client.New(cfg)
	var errs []error
	for _, err := range c.Watch(context.Background(), r, "a", client.WatchOptions{ListOptions: client.ListOptions{ResourceVersion: "1"}}) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], client.ErrUnauthorized) {
		t.Fatalf("errors = %v, want one Unauthorized", errs)
	}
}

func TestWatchStopsWhenCallerBreaks(t *testing.T) {
	srv, c, r := setup(t)
	srv.Seed(t, component("a", "x", "shop"), component("a", "y", "shop"))
	n := 0
	for _, err := range c.Watch(context.Background(), r, "a", client.WatchOptions{ListOptions: client.ListOptions{ResourceVersion: "0"}}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		break
	}
	if n != 1 {
		t.Fatalf("n = %d", n)
	}
}
