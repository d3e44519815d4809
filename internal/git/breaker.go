package git

import (
	"container/heap"
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
)

// When a host fails as a whole (DNS, connection, TLS), resolving each of
// its watches would only start one doomed git process per watch, so the
// schedule stops resolving them: one watch, the probe, tries again after
// a back-off that starts at the host's shortest watch interval (at most
// firstHostBackoff, so a short outage delays its watches little) and
// doubles up to maxHostBackoff. The other watches wait, parked, until a
// resolve shows the host answers again.
const (
	firstHostBackoff = 30 * time.Second
	maxHostBackoff   = 15 * time.Minute
)

// host is the circuit breaker of one remote host.
type host struct {
	name     string        // scheme://host[:port], see hostKey
	n        int           // watches on it
	shortest time.Duration // smallest interval among them, as of the last sync
	noted    int           // the sync that last set shortest
	breaker
}

// breaker is a host's down state; its zero value is a host that is up.
type breaker struct {
	down    bool
	since   time.Time     // when it went down
	backoff time.Duration // current wait between probes
	retry   time.Time     // when the probe runs next
	// probe is the watch that probes the host: idle until retry, or out;
	// nil when the next of its watches to come due should be.
	probe  *entry
	parked []*entry // its other watches, waiting for it to answer
}

// hostState is what a hostEvent says about a host.
type hostState int

const (
	hostDown hostState = iota
	hostStillDown
	hostUp
)

// hostEvent tells the Poller of a change in a host's state, to log.
type hostEvent struct {
	host    string
	state   hostState
	err     error         // down, still down: the probe's error
	wait    time.Duration // down, still down: until the next probe
	downFor time.Duration // up
	watches int
}

// hostFor returns the host of url, counting one more watch on it; nil for
// local repositories.
func (s *schedule) hostFor(rawURL string) *host {
	name := hostKey(rawURL)
	if name == "" {
		return nil
	}
	h := s.hosts[name]
	if h == nil {
		h = &host{name: name}
		s.hosts[name] = h
	}
	h.n++
	return h
}

// note folds a watch's interval into the host's shortest, restarting at
// each sync so intervals of vanished watches are forgotten.
func (h *host) note(every time.Duration, sync int) {
	if h.noted != sync || h.shortest == 0 {
		h.noted, h.shortest = sync, every
		return
	}
	h.shortest = min(h.shortest, every)
}

// hostFailed records a host-level failure of e's resolve.
func (s *schedule) hostFailed(e *entry, err error, now time.Time) {
	h := e.host
	e.job = 0
	state := hostStillDown
	switch {
	case !h.down:
		state = hostDown
		h.down, h.since, h.backoff = true, now, firstHostBackoff
		if h.shortest > 0 {
			h.backoff = min(h.shortest, firstHostBackoff)
		}
	case h.probe == e || h.probe == nil:
		h.backoff = min(2*h.backoff, maxHostBackoff)
	default:
		// Already out when the host went down: the probe speaks for it.
		h.park(e)
		return
	}
	wait := s.jittered(h.backoff)
	h.retry, h.probe, e.next = now.Add(wait), e, now.Add(wait)
	heap.Push(&s.idle, e)
	s.tell(hostEvent{host: h.name, state: state, err: err, wait: wait, watches: h.n})
}

// hostAnswered records that a resolve reached h: if it was down, its
// watches resume, spread over the jitter fraction of their intervals.
func (s *schedule) hostAnswered(h *host, now time.Time) {
	if !h.down {
		return
	}
	s.tell(hostEvent{host: h.name, state: hostUp, downFor: now.Sub(h.since), watches: h.n})
	for _, e := range h.parked {
		e.parked = false
		e.next = now.Add(s.spread(e.w))
		heap.Push(&s.idle, e)
	}
	if p := h.probe; p != nil && p.index >= 0 { // idle, waiting for h.retry
		s.move(p, now.Add(s.spread(p.w)))
	}
	h.breaker = breaker{}
}

// nextProbe picks a parked watch to probe h at its retry time, after the
// probe went away.
func (s *schedule) nextProbe(h *host) {
	if !h.down || len(h.parked) == 0 {
		return
	}
	e := h.parked[len(h.parked)-1]
	h.unpark(e)
	h.probe, e.next = e, h.retry
	heap.Push(&s.idle, e)
}

func (h *host) park(e *entry) {
	e.parked, e.index = true, len(h.parked)
	h.parked = append(h.parked, e)
}

// unpark takes e out of h.parked in O(1), moving the last one into its
// place.
func (h *host) unpark(e *entry) {
	last := len(h.parked) - 1
	moved := h.parked[last]
	h.parked[e.index], moved.index = moved, e.index
	h.parked[last] = nil
	h.parked = h.parked[:last]
	e.parked, e.index = false, -1
}

func (s *schedule) tell(ev hostEvent) {
	if s.hostChanged != nil {
		s.hostChanged(ev)
	}
}

// hostKey is what a URL's host is known by: scheme://host[:port] in lower
// case, without user info (so no token reaches a log). It is "" for
// file:// URLs and local paths, which have no host that could be down.
// scp-like addresses (git@host:path) are ssh.
func hostKey(rawURL string) string {
	if scheme, _, ok := strings.Cut(rawURL, "://"); ok {
		scheme = strings.ToLower(scheme)
		u, err := url.Parse(rawURL)
		if scheme == "file" || err != nil || u.Host == "" {
			return ""
		}
		return scheme + "://" + strings.ToLower(u.Host)
	}
	// git reads [user@]host:path as ssh when the colon comes before any
	// slash; anything else is a local path.
	colon := strings.IndexByte(rawURL, ':')
	if colon <= 0 || strings.Contains(rawURL[:colon], "/") {
		return ""
	}
	h := rawURL[:colon]
	if at := strings.LastIndexByte(h, '@'); at >= 0 {
		h = h[at+1:]
	}
	if h == "" {
		return ""
	}
	return "ssh://" + strings.ToLower(h)
}

// hostLevel reports whether err says the repository's host could not be
// reached at all (name resolution, connection, TLS, a gateway error or a
// resolve that timed out), as opposed to an answer about the repository.
// It reads the Err* values classify wraps, and, for Resolve functions
// that do not wrap them, git's messages in the error text.
func hostLevel(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled),
		errors.Is(err, ErrRepoNotFound), errors.Is(err, ErrAuth), errors.Is(err, ErrRefNotFound):
		return false
	case errors.Is(err, ErrUnreachable), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	low := strings.ToLower(err.Error())
	return containsAny(low, unreachableNeedles) || containsAny(low, gatewayNeedles)
}

// gatewayNeedles are HTTP answers saying the server (or a proxy in front
// of it) is unavailable; they are not reported as ErrUnreachable, since
// the host did answer, but they hold for every repository on it.
var gatewayNeedles = []string{"returned error: 502", "returned error: 503", "returned error: 504"}
