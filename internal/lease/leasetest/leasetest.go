// Package leasetest is the conformance suite every lease.HolderRenewer passes.
package leasetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/lease"
)

// NewDB returns an opener of handles on one new, empty database: each
// handle stands for one process sharing that database. Every lease store
// also renews by holder (lease.HolderRenewer).
type NewDB func(t *testing.T) func(t *testing.T) lease.HolderRenewer

// Run runs the suite.
func Run(t *testing.T, newDB NewDB) {
	tests := map[string]func(*testing.T, func(*testing.T) lease.HolderRenewer){
		"AcquireFree":        testAcquireFree,
		"HeldByOther":        testHeldByOther,
		"ReacquireRenews":    testReacquireRenews,
		"ExpiredIsTaken":     testExpiredIsTaken,
		"RenewFencedByToken": testRenewFenced,
		"ReleaseFreesAtOnce": testRelease,
		"Supersede":          testSupersede,
		"OneWinnerOfMany":    testOneWinner,
		"InvalidRequests":    testInvalid,
		"HoldLosesWhenTaken": testHoldLoses,
		"ElectorHandsOver":   testElector,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newDB(t))
		})
	}
}

var ctx = context.Background()

func acquire(t *testing.T, s lease.HolderRenewer, name, holder string, ttl time.Duration) lease.Lease {
	t.Helper()
	l, err := s.Acquire(ctx, lease.Request{Name: name, Holder: holder, TTL: ttl})
	if err != nil {
		t.Fatalf("Acquire(%s, %s): %v", name, holder, err)
	}
	if l.Name != name || l.Holder != holder || !l.Alive || l.Token < 1 {
		t.Fatalf("Acquire(%s, %s) = %+v; want alive, held by %s, token >= 1", name, holder, l, holder)
	}
	return l
}

// waitExpired waits (up to 10 s) until the store reports name expired.
func waitExpired(t *testing.T, s lease.HolderRenewer, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		l, err := s.Get(ctx, name)
		if err != nil {
			t.Fatalf("Get(%s): %v", name, err)
		}
		if !l.Alive {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("lease %s still alive after 10s", name)
}

func testAcquireFree(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	s := open(t)
	if _, err := s.Get(ctx, "x"); !errors.Is(err, lease.ErrNotFound) {
		t.Fatalf("Get of a lease never acquired: %v; want ErrNotFound", err)
	}
	l := acquire(t, s, "x", "a#1", time.Minute)
	got, err := s.Get(ctx, "x")
	if err != nil || got.Holder != "a#1" || got.Token != l.Token || !got.Alive {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, l)
	}
	if !got.Expires.After(time.Now().Add(30 * time.Second)) {
		t.Errorf("Expires = %v; want about a minute from now", got.Expires)
	}
}

func testHeldByOther(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	a, b := open(t), open(t)
	acquire(t, a, "x", "a#1", time.Minute)
	_, err := b.Acquire(ctx, lease.Request{Name: "x", Holder: "b#1", TTL: time.Minute})
	var held *lease.HeldError
	if !errors.Is(err, lease.ErrHeld) || !errors.As(err, &held) || held.Current.Holder != "a#1" {
		t.Fatalf("Acquire of a live lease by another = %v; want ErrHeld naming a#1", err)
	}
}

func testReacquireRenews(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	s := open(t)
	l := acquire(t, s, "x", "a#1", time.Minute)
	again := acquire(t, s, "x", "a#1", time.Minute)
	if again.Token != l.Token {
		t.Fatalf("re-acquiring a live lease changed its token %d -> %d", l.Token, again.Token)
	}
}

func testExpiredIsTaken(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	a, b := open(t), open(t)
	l := acquire(t, a, "x", "a#1", 30*time.Millisecond)
	waitExpired(t, b, "x")
	got := acquire(t, b, "x", "b#1", time.Minute)
	if got.Token <= l.Token {
		t.Fatalf("token after a takeover = %d; want > %d", got.Token, l.Token)
	}
	if _, err := a.Renew(ctx, l, time.Minute); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("Renew by the old holder after a takeover: %v; want ErrLost", err)
	}
}

func testRenewFenced(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	s := open(t)
	l := acquire(t, s, "x", "a#1", 30*time.Millisecond)
	waitExpired(t, s, "x")
	// Expired, but nobody took it: the same holder and token may renew.
	r, err := s.Renew(ctx, l, time.Minute)
	if err != nil || r.Token != l.Token || !r.Alive {
		t.Fatalf("Renew of an expired lease nobody took = %+v, %v; want it alive with token %d", r, err, l.Token)
	}
	stale := l
	stale.Token--
	if _, err := s.Renew(ctx, stale, time.Minute); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("Renew with a stale token: %v; want ErrLost", err)
	}
	other := l
	other.Holder = "b#1"
	if _, err := s.Renew(ctx, other, time.Minute); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("Renew by a holder that never held it: %v; want ErrLost", err)
	}
}

func testRelease(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	a, b := open(t), open(t)
	l := acquire(t, a, "x", "a#1", time.Hour)
	if err := a.Release(ctx, l); err != nil {
		t.Fatalf("Release: %v", err)
	}
	got := acquire(t, b, "x", "b#1", time.Hour)
	if got.Token <= l.Token {
		t.Fatalf("token after a release = %d; want > %d", got.Token, l.Token)
	}
	if err := a.Release(ctx, l); err != nil {
		t.Fatalf("Release with a stale token: %v; want nil (a no-op)", err)
	}
	if cur, _ := b.Get(ctx, "x"); cur.Holder != "b#1" || !cur.Alive {
		t.Fatalf("a stale Release freed the new holder's lease: %+v", cur)
	}
}

func testSupersede(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	s := open(t)
	l := acquire(t, s, "x", "a#1", time.Hour)
	_, err := s.Acquire(ctx, lease.Request{Name: "x", Holder: "a#2", TTL: time.Hour, Supersede: l.Token + 1})
	if !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("Supersede with a wrong token: %v; want ErrHeld", err)
	}
	got, err := s.Acquire(ctx, lease.Request{Name: "x", Holder: "a#2", TTL: time.Hour, Supersede: l.Token})
	if err != nil || got.Holder != "a#2" || got.Token <= l.Token {
		t.Fatalf("Supersede = %+v, %v; want held by a#2 with a new token", got, err)
	}
}

func testOneWinner(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	stores := []lease.HolderRenewer{open(t), open(t)}
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := fmt.Sprintf("r%d#1", i)
			_, err := stores[i%2].Acquire(ctx, lease.Request{Name: "x", Holder: holder, TTL: time.Hour})
			if err == nil {
				mu.Lock()
				winners = append(winners, holder)
				mu.Unlock()
			} else if !errors.Is(err, lease.ErrHeld) {
				t.Errorf("Acquire: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d concurrent acquirers won %v; want exactly one", n, winners)
	}
}

func testInvalid(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	s := open(t)
	for _, r := range []lease.Request{
		{Holder: "a#1", TTL: time.Second},
		{Name: "x", TTL: time.Second},
		{Name: "x", Holder: "a#1"},
	} {
		if _, err := s.Acquire(ctx, r); err == nil {
			t.Errorf("Acquire(%+v) succeeded; want an error", r)
		}
	}
}

func testHoldLoses(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	a, b := open(t), open(t)
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h, err := lease.Hold(hctx, a, lease.Request{Name: "x", Holder: "a#1", TTL: time.Second}, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("Hold: %v", err)
	}
	// A dead incarnation's lease taken over: the holder must notice.
	if _, err := b.Acquire(ctx, lease.Request{Name: "x", Holder: "a#2", TTL: time.Hour, Supersede: h.Lease().Token}); err != nil {
		t.Fatalf("Acquire with Supersede: %v", err)
	}
	select {
	case <-h.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the holder did not notice it lost its lease")
	}
	if !errors.Is(context.Cause(h.Context()), lease.ErrLost) {
		t.Fatalf("cause = %v; want ErrLost", context.Cause(h.Context()))
	}
}

func testElector(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	a, b := open(t), open(t)
	actx, stopA := context.WithCancel(ctx)
	ea := &lease.Elector{Store: a, Holder: "a#1", TTL: time.Hour, Retry: 10 * time.Millisecond}
	la, err := ea.Lead(actx)
	if err != nil {
		t.Fatalf("a.Lead: %v", err)
	}
	eb := &lease.Elector{Store: b, Holder: "b#1", TTL: time.Hour, Retry: 10 * time.Millisecond}
	led := make(chan context.Context, 1)
	go func() {
		lb, err := eb.Lead(ctx)
		if err != nil {
			t.Errorf("b.Lead: %v", err)
		}
		led <- lb
	}()
	select {
	case <-led:
		t.Fatal("b leads while a holds the lease")
	case <-time.After(100 * time.Millisecond):
	}
	stopA() // a shuts down: it releases the lease
	<-la.Done()
	select {
	case lb := <-led:
		if lb == nil || lb.Err() != nil {
			t.Fatal("b's leadership ended at once")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b did not lead within 10s of a's release")
	}
	// A restart of b (a new incarnation) takes over at once.
	eb2 := &lease.Elector{Store: a, Holder: "b#2", TTL: time.Hour, Retry: time.Hour}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := eb2.Lead(lctx); err != nil {
		t.Fatalf("a new incarnation of b did not take over at once: %v", err)
	}
}

func testRenewHolder(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	s := open(t)
	a1 := acquire(t, s, "a1", "a#1", 30*time.Millisecond)
	acquire(t, s, "a2", "a#1", time.Hour)
	gone := acquire(t, s, "a3", "a#1", time.Hour)
	if err := s.Release(ctx, gone); err != nil {
		t.Fatal(err)
	}
	acquire(t, s, "b1", "b#1", 30*time.Millisecond)
	waitExpired(t, s, "a1")
	got, err := s.RenewHolder(ctx, "a#1", time.Hour)
	if err != nil {
		t.Fatalf("RenewHolder: %v", err)
	}
	names := map[string]int64{}
	for _, l := range got {
		names[l.Name] = l.Token
		if !l.Alive || l.Holder != "a#1" {
			t.Errorf("renewed %+v; want alive, held by a#1", l)
		}
	}
	if len(names) != 2 || names["a1"] != a1.Token || names["a2"] == 0 {
		t.Fatalf("RenewHolder renewed %v; want a1 (expired, untaken, same token) and a2 only", names)
	}
	waitExpired(t, s, "b1") // another holder's lease is left alone
}

func testSessionLosesOne(t *testing.T, open func(*testing.T) lease.HolderRenewer) {
	a, b := open(t), open(t)
	sess := &lease.Session{Store: a, Holder: "a#1", TTL: time.Second}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { sess.Run(sctx); close(done) }()
	defer func() { stop(); <-done }()
	keep, _, err := sess.Hold(ctx, lease.Request{Name: "keep"})
	if err != nil {
		t.Fatalf("Hold: %v", err)
	}
	lose, l, err := sess.Hold(ctx, lease.Request{Name: "lose"})
	if err != nil {
		t.Fatalf("Hold: %v", err)
	}
	if _, err := b.Acquire(ctx, lease.Request{Name: "lose", Holder: "a#2", TTL: time.Hour, Supersede: l.Token}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lose.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not notice a lease taken from it")
	}
	if !errors.Is(context.Cause(lose), lease.ErrLost) || keep.Err() != nil {
		t.Fatalf("lost lease cause %v, kept lease %v; want ErrLost and alive", context.Cause(lose), keep.Err())
	}
	// The kept lease outlives its TTL through the session's renewals.
	time.Sleep(1500 * time.Millisecond)
	if cur, err := b.Get(ctx, "keep"); err != nil || !cur.Alive || cur.Holder != "a#1" || keep.Err() != nil {
		t.Fatalf("kept lease %+v, %v (context %v); want alive, held by a#1", cur, err, keep.Err())
	}
	if err := sess.Release(ctx, "keep"); err != nil {
		t.Fatal(err)
	}
	acquire(t, b, "keep", "b#1", time.Hour)
}
