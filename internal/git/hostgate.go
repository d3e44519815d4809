package git

import (
	"context"
	"errors"
	"sync"
	"time"
)

// HostGate is the circuit breaker of the Poller for callers outside it
// (e.g. a controller fetching each new component once): after a call
// fails because the repository's host could not be reached at all (see
// the Poller), Allow refuses that host's URLs, then lets one call through
// as a probe after a back-off (30 s, doubling to 15 minutes); a call that
// reaches the host opens it for all again. So ten thousand components on a
// dead forge start one git process per probe, not one each. Local
// repositories are always allowed. The zero value is ready; it is safe
// for concurrent use.
type HostGate struct {
	mu    sync.Mutex
	hosts map[string]*gateHost // by hostKey, only hosts that are down
	// now is the clock; tests set it.
	now func() time.Time
}

type gateHost struct {
	backoff time.Duration
	retry   time.Time // when the next probe may start
	probing bool      // a probe was let through and has not reported
}

// Allow reports whether a call may contact url's host now; when not, wait
// is how long until a probe may.
func (g *HostGate) Allow(url string) (wait time.Duration, ok bool) {
	key := hostKey(url)
	g.mu.Lock()
	defer g.mu.Unlock()
	h := g.hosts[key]
	if h == nil {
		return 0, true
	}
	now := g.clock()
	if now.Before(h.retry) {
		return h.retry.Sub(now), false
	}
	// The probe: the next one may start a back-off later even if this
	// one never reports.
	h.probing, h.retry = true, now.Add(h.backoff)
	return 0, true
}

// Record notes how a call Allow let through ended: an error saying the
// host could not be reached closes it (or, after a probe, doubles its
// back-off); anything else but a cancellation opens it.
func (g *HostGate) Record(url string, err error) {
	key := hostKey(url)
	if key == "" || errors.Is(err, context.Canceled) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	h := g.hosts[key]
	switch {
	case !hostLevel(err):
		delete(g.hosts, key)
	case h == nil:
		if g.hosts == nil {
			g.hosts = map[string]*gateHost{}
		}
		g.hosts[key] = &gateHost{backoff: firstHostBackoff, retry: g.clock().Add(firstHostBackoff)}
	case h.probing:
		h.probing, h.backoff = false, min(2*h.backoff, maxHostBackoff)
		h.retry = g.clock().Add(h.backoff)
	}
	// A failure of a call that started before the host went down adds
	// nothing: the host's back-off stands.
}

func (g *HostGate) clock() time.Time {
	if g.now != nil {
		return g.now()
	}
	return time.Now()
}

// Unreachable reports whether err says a repository's host could not be
// reached at all (name resolution, connection, TLS, a gateway error or a
// timeout), as opposed to an answer about the repository.
func Unreachable(err error) bool { return hostLevel(err) }
