package git

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHostKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://git.example.com/ns/name.git":    "https://git.example.com",
		"https://tok:x@Git.Example.COM:8443/a/b": "https://git.example.com:8443",
		"http://127.0.0.1:1/x.git":               "http://127.0.0.1:1",
		"https://[::1]:8080/x":                   "https://[::1]:8080",
		"ssh://git@host.example:2222/a.git":      "ssh://host.example:2222",
		"git@github.com:a/b.git":                 "ssh://github.com",
		"github.com:a/b.git":                     "ssh://github.com",
		"git://git.example.com/x":                "git://git.example.com",
		"file:///srv/repo":                       "",
		"FILE:///srv/repo":                       "",
		"/srv/repo":                              "",
		"./a:b":                                  "",
		"u":                                      "",
		"":                                       "",
	} {
		if got := hostKey(in); got != want {
			t.Errorf("hostKey(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestHostLevel classifies git's real messages (through classify, as
// Resolve does) and errors of other Resolve functions.
func TestHostLevel(t *testing.T) {
	t.Parallel()
	const url = "https://git.example.com/ns/name.git"
	stderr := map[string]bool{
		// Host-level: every repository on the host fails alike.
		"fatal: unable to access '" + url + "/': Could not resolve host: git.example.com\n":                                                                                                                              true,
		"fatal: unable to access 'http://127.0.0.1:1/x.git/': Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server\n":                                                                            true,
		"fatal: unable to look up git.example.com (port 9418) (Name or service not known)\n":                                                                                                                             true,
		"fatal: unable to connect to git.example.com:\ngit.example.com[0: 192.0.2.1]: errno=Connection refused\n":                                                                                                        true,
		"ssh: Could not resolve hostname git.example.com: Name or service not known\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n": true,
		"ssh: connect to host git.example.com port 22: Connection refused\nfatal: Could not read from remote repository.\n":                                                                                              true,
		"ssh: connect to host git.example.com port 22: Connection timed out\nfatal: Could not read from remote repository.\n":                                                                                            true,
		"kex_exchange_identification: read: Connection reset by peer\nfatal: Could not read from remote repository.\n":                                                                                                   true,
		"fatal: unable to access '" + url + "/': Failed to connect to git.example.com port 443 after 130 ms: Network is unreachable\n":                                                                                   true,
		"fatal: unable to access '" + url + "/': gnutls_handshake() failed: The TLS connection was non-properly terminated.\n":                                                                                           true,
		"fatal: unable to access '" + url + "/': OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to git.example.com:443 \n":                                                                                         true,
		"fatal: unable to access '" + url + "/': SSL certificate problem: self-signed certificate in certificate chain\n":                                                                                                true,
		"fatal: unable to access '" + url + "/': server certificate verification failed. CAfile: none CRLfile: none\n":                                                                                                   true,
		"fatal: unable to access '" + url + "/': Received HTTP code 502 from proxy after CONNECT\n":                                                                                                                      true,
		"fatal: unable to access '" + url + "/': The requested URL returned error: 503\n":                                                                                                                                true,
		"fatal: unable to access '" + url + "/': Operation timed out after 300000 milliseconds with 0 out of 0 bytes received\n":                                                                                         true,
		// Repository-level: an answer about this repository only.
		"remote: Repository not found.\nfatal: repository '" + url + "/' not found\n":                          false,
		"fatal: could not read Username for 'https://git.example.com': terminal prompts disabled\n":            false,
		"fatal: unable to access '" + url + "/': The requested URL returned error: 403\n":                      false,
		"fatal: unable to access '" + url + "/': The requested URL returned error: 500\n":                      false,
		"git@git.example.com: Permission denied (publickey).\nfatal: Could not read from remote repository.\n": false,
		"Host key verification failed.\nfatal: Could not read from remote repository.\n":                       false,
		"fatal: couldn't find remote ref refs/heads/x\n":                                                       false,
		"warning: odd\nfatal: something new\n":                                                                 false,
	}
	for text, want := range stderr {
		if got := hostLevel(resolveErr(url, "main", classify(text))); got != want {
			t.Errorf("hostLevel(classify(%q)) = %v; want %v", text, got, want)
		}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("git timed out or was cancelled: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("git timed out or was cancelled: %w", context.Canceled), false},  // shutting down
		{errors.New("fatal: unable to access 'x': Could not resolve host: x"), true}, // not wrapped
		{errors.New("dial tcp: lookup git.example.com: no such host"), true},
		{fmt.Errorf("resolving main of %s: %w", url, ErrRepoNotFound), false},
		{fmt.Errorf("resolving main of %s: %w", url, ErrRefNotFound), false},
		{fmt.Errorf("%w: Could not resolve host (from a message)", ErrAuth), false}, // the class wins
		{errors.New("running git: exec: \"git\": executable file not found in $PATH"), false},
	} {
		if got := hostLevel(tc.err); got != tc.want {
			t.Errorf("hostLevel(%v) = %v; want %v", tc.err, got, tc.want)
		}
	}
}

// drive runs s from now to end as the Poller would if resolves took no
// time, answering each job with resolve; it returns the time it stopped.
func drive(s *schedule, now, end time.Time, resolve func(j job, now time.Time) (string, error)) time.Time {
	for {
		for _, j := range s.due(now, 4) {
			commit, err := resolve(j, now)
			if s.resolved(j, commit, err, now) {
				s.notified(j, commit, nil, now)
			}
		}
		next, ok := s.nextDue()
		if !ok || next.After(end) {
			return end
		}
		if next.After(now) {
			now = next
		}
	}
}

// forge is a fake set of hosts: a host in down fails as a whole, a URL in
// gone does not exist; it records the offset from t0 of each resolve.
type forge struct {
	down  map[string]bool // hostKey → down
	gone  map[string]bool // URL → repository not found
	times map[string][]time.Duration
}

func newForge() *forge {
	return &forge{down: map[string]bool{}, gone: map[string]bool{}, times: map[string][]time.Duration{}}
}

func (f *forge) resolve(j job, now time.Time) (string, error) {
	f.times[j.w.Key] = append(f.times[j.w.Key], now.Sub(t0))
	switch {
	case f.down[hostKey(j.w.URL)]:
		return "", resolveErr(j.w.URL, j.w.Branch, classify("fatal: unable to access '"+j.w.URL+"/': Could not resolve host: x\n"))
	case f.gone[j.w.URL]:
		return "", resolveErr(j.w.URL, j.w.Branch, ErrRepoNotFound)
	}
	return "c1", nil
}

// resolvesOf lists the resolve times of keys starting with prefix, in order.
func (f *forge) resolvesOf(prefix string) []time.Duration {
	var all []time.Duration
	for k, ts := range f.times {
		if strings.HasPrefix(k, prefix) {
			all = append(all, ts...)
		}
	}
	slices.Sort(all)
	return all
}

func watchesOn(base string, n int) []Watch {
	ws := make([]Watch, n)
	for i := range ws {
		ws[i] = Watch{Key: fmt.Sprintf("%s/%d", base, i), URL: fmt.Sprintf("%s/ns/%d.git", base, i),
			Branch: "main", LastSeen: "c1"}
	}
	return ws
}

func secs(ss ...int) []time.Duration {
	ds := make([]time.Duration, len(ss))
	for i, s := range ss {
		ds[i] = time.Duration(s) * time.Second
	}
	return ds
}

// TestScheduleHostBreaker: 100 watches on a dead host cost one resolve per
// back-off period (30 s doubling to 15 min), not 100 per interval, while
// another host's watches go on; when the host answers, all resume.
func TestScheduleHostBreaker(t *testing.T) {
	t.Parallel()
	s := newSchedule(0.5) // new watches due at +3 s; no jitter on waits
	var events []hostEvent
	s.hostChanged = func(ev hostEvent) { events = append(events, ev) }
	s.sync(append(watchesOn("https://dead.example", 100), watchesOn("https://live.example", 10)...), t0)
	f := newForge()
	f.down["https://dead.example"] = true

	now := drive(s, t0, t0.Add(40*time.Minute), f.resolve)
	// Four were out when the first failed; then one probe per back-off.
	if got, want := f.resolvesOf("https://dead.example/"), secs(3, 3, 3, 3, 33, 93, 213, 453, 933, 1833); !slices.Equal(got, want) {
		t.Errorf("dead host resolved at %v; want %v", got, want)
	}
	if n := len(f.resolvesOf("https://live.example/")); n != 10*40 {
		t.Errorf("live host: %d resolves in 40 minutes; want 400", n)
	}
	states := func() (ss []hostState) {
		for _, ev := range events {
			ss = append(ss, ev.state)
		}
		return ss
	}
	if want := []hostState{hostDown, hostStillDown, hostStillDown, hostStillDown, hostStillDown, hostStillDown, hostStillDown}; !slices.Equal(states(), want) {
		t.Errorf("host events %v; want %v", states(), want)
	}
	if ev := events[0]; ev.host != "https://dead.example" || ev.watches != 100 || ev.wait != 30*time.Second || !errors.Is(ev.err, ErrUnreachable) {
		t.Errorf("down event %+v", ev)
	}

	// The host is back: the probe at 2733 s finds it, the others follow
	// within the jitter fraction of their interval.
	f.down["https://dead.example"] = false
	clear(f.times)
	drive(s, now, t0.Add(2736*time.Second), f.resolve)
	for _, w := range watchesOn("https://dead.example", 100) {
		if got := f.times[w.Key]; len(got) != 1 || got[0] < 2733*time.Second {
			t.Fatalf("%s resolved at %v after recovery; want once, at 2733 s to 2736 s", w.Key, got)
		}
	}
	if last := events[len(events)-1]; last.state != hostUp || last.watches != 100 || last.downFor != 2730*time.Second {
		t.Errorf("up event %+v; want 100 watches, down for 2730 s", last)
	}
	if h := s.hosts["https://dead.example"]; h.down || len(h.parked) != 0 || h.probe != nil {
		t.Errorf("host state after recovery: %+v", h.breaker)
	}
}

// TestScheduleRepoErrorKeepsHostUp: a missing repository backs off on its
// own; its host's other watches go on every interval.
func TestScheduleRepoErrorKeepsHostUp(t *testing.T) {
	t.Parallel()
	s := newSchedule(0.5)
	s.hostChanged = func(ev hostEvent) { t.Errorf("host event %+v", ev) }
	ws := watchesOn("https://forge.example", 10)
	s.sync(ws, t0)
	f := newForge()
	f.gone[ws[0].URL] = true
	drive(s, t0, t0.Add(10*time.Minute), f.resolve)
	if got, want := f.times[ws[0].Key], secs(3, 123, 363); !slices.Equal(got, want) {
		t.Errorf("missing repository resolved at %v; want %v (backing off 2, 4 minutes)", got, want)
	}
	for _, w := range ws[1:] {
		if n := len(f.times[w.Key]); n != 10 {
			t.Errorf("%s: %d resolves in 10 minutes; want 10", w.Key, n)
		}
	}
}

// TestScheduleHostProbeGoesAway: when the probe's watch goes away, a
// parked watch takes over; when all go, so does the host.
func TestScheduleHostProbeGoesAway(t *testing.T) {
	t.Parallel()
	s := newSchedule(0.5)
	ws := watchesOn("https://dead.example", 10)
	s.sync(ws, t0)
	f := newForge()
	f.down["https://dead.example"] = true
	now := drive(s, t0, t0.Add(10*time.Second), f.resolve) // down at 3 s, retry at 33 s
	h := s.hosts["https://dead.example"]
	probe := h.probe.w.Key
	ws = slices.DeleteFunc(ws, func(w Watch) bool { return w.Key == probe })
	s.sync(ws, now)
	if h.probe == nil || h.probe.w.Key == probe || len(h.parked) != 8 || h.n != 9 {
		t.Fatalf("after the probe went: probe %v, %d parked, %d watches; want another probe, 8 parked, 9", h.probe, len(h.parked), h.n)
	}
	clear(f.times)
	drive(s, now, t0.Add(2*time.Minute), f.resolve)
	if got, want := f.resolvesOf("https://dead.example/"), secs(33, 93); !slices.Equal(got, want) {
		t.Errorf("probes at %v; want %v", got, want)
	}
	// A new watch on the host waits with the others.
	s.sync(append(ws, watchesOn("https://dead.example/more", 1)...), t0.Add(2*time.Minute))
	drive(s, t0.Add(2*time.Minute), t0.Add(3*time.Minute), f.resolve)
	if n := len(f.resolvesOf("https://dead.example/")); n != 2 {
		t.Errorf("%d resolves; want only the 2 probes", n)
	}
	s.sync(nil, t0.Add(3*time.Minute))
	if len(s.hosts) != 0 || len(s.idle) != 0 {
		t.Errorf("with no watches left: %d hosts, %d idle entries", len(s.hosts), len(s.idle))
	}
}

// logRecorder keeps "level message key" of each record.
type logRecorder struct {
	mu   sync.Mutex
	recs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	s := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "key" {
			s += " " + a.Value.String()
		}
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, s)
	return nil
}

func (r *logRecorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.recs {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// TestPollerPausesDeadHost runs the breaker in a Poller: 100 watches on a
// dead host resolve a handful of times in 20 minutes instead of 2,000;
// the host is logged down and back once; recovery resumes every watch.
func TestPollerPausesDeadHost(t *testing.T) {
	t.Parallel()
	dead := watchesOn("https://dead.example", 100)
	live := watchesOn("https://live.example", 5)
	live[0].URL = "https://live.example/ns/gone.git"
	var mu sync.Mutex
	down := true
	counts := map[string]int{}
	resolve := func(_ context.Context, w Watch) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		counts[w.Key]++
		switch {
		case down && strings.HasPrefix(w.URL, "https://dead.example/"):
			return "", resolveErr(w.URL, w.Branch, classify("fatal: unable to access 'x': Could not resolve host: dead.example\n"))
		case strings.HasSuffix(w.URL, "/gone.git"):
			return "", resolveErr(w.URL, w.Branch, ErrRepoNotFound)
		}
		return "c1", nil
	}
	sum := func(ws []Watch) (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, w := range ws {
			n += counts[w.Key]
		}
		return n
	}
	logs := &logRecorder{}
	clock := &fakeClock{now: t0}
	startPoller(t, &Poller{
		Watches:     func(context.Context) ([]Watch, error) { return append(slices.Clone(dead), live...), nil },
		OnNewCommit: func(context.Context, string, string) error { return nil },
		Resolve:     resolve, Clock: clock, rand: func() float64 { return 0.5 }, Log: slog.New(logs),
		Interval: time.Minute, Refresh: time.Hour, Concurrency: 4,
	})
	clock.runUntil(t, "20 minutes", func() bool { return !clock.Now().Before(t0.Add(20 * time.Minute)) })
	// Up to 4 out when it went down, then probes at 33, 93, 213, 453, 933 s.
	if n := sum(dead); n < 5 || n > 4+5 {
		t.Errorf("dead host: %d resolves in 20 minutes; want 5 to 9", n)
	}
	if n := sum(live[1:]); n < 4*18 {
		t.Errorf("live host: %d resolves in 20 minutes; want about 80", n)
	}
	if n := sum(live[:1]); n > 4 {
		t.Errorf("missing repository: %d resolves; want at most 4 (backing off)", n)
	}

	mu.Lock()
	down = false
	before := maps.Clone(counts)
	mu.Unlock()
	clock.runUntil(t, "every dead-host watch resolved again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, w := range dead {
			if counts[w.Key] == before[w.Key] {
				return false
			}
		}
		return true
	})
	if n := logs.count("WARN git host unreachable"); n != 1 {
		t.Errorf("%d host-down warnings; want 1", n)
	}
	clock.runUntil(t, "the host-up message", func() bool { return logs.count("INFO git host reachable again") == 1 })
	if n, gone := logs.count("WARN polling git branch"), logs.count("WARN polling git branch "+live[0].Key); n != gone {
		t.Errorf("%d per-watch warnings, %d of them for the missing repository; want only those", n, gone)
	}
}
