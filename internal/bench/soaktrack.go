package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/kilnbuild/kiln/internal/client"
)

// outcome is where a tracked object stands.
type outcome int

const (
	pending outcome = iota
	passed
	failed
)

// record is one object of the soak's namespace, as its watch showed it.
type record struct {
	name      string
	component string
	app       string // a Snapshot's application
	phase     string
	// seen is when the watch first showed it; start is when the driver
	// committed for a direct build, else seen.
	seen, start, done time.Time
	direct            bool
	result            outcome
	detail            string
	unchanged, cached bool
}

// judge tells an object's outcome, and why it failed.
type judge func(o client.Object) (outcome, string)

// kindTracker follows one resource of the soak's namespace through a
// watch (which resumes after a dropped connection and re-lists after 410).
type kindTracker struct {
	resource string
	judge    judge
	mu       sync.Mutex
	recs     map[string]*record
	open     map[string]*record
	finished []*record // in the order they finished
	direct   map[string]time.Time
	err      error // why the watch ended, if it did
}

func newKindTracker(resource string, j judge) *kindTracker {
	return &kindTracker{resource: resource, judge: j, recs: map[string]*record{}, open: map[string]*record{},
		direct: map[string]time.Time{}}
}

// follow starts consuming the resource's watch until ctx ends; a watch
// that gives up is recorded (watchErr).
func (k *kindTracker) follow(ctx context.Context, c *client.Client, wg *sync.WaitGroup) error {
	res, err := c.ResolveResource(ctx, k.resource)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", k.resource, err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev, err := range c.Watch(ctx, res, soakNamespace, client.WatchOptions{}) {
			if err != nil {
				k.fail(fmt.Errorf("watching %s: %w", k.resource, err))
				return
			}
			k.observe(ev, time.Now())
		}
	}()
	return nil
}

func (k *kindTracker) fail(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.err = err
}

func (k *kindTracker) observe(ev client.Event, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	name := ev.Object.Name()
	if ev.Type == client.Deleted {
		delete(k.open, name)
		return
	}
	r := k.recs[name]
	if r == nil {
		r = k.add(name, ev.Object, now)
	}
	if r.result != pending {
		return
	}
	r.phase = ev.Object.String("status", "phase")
	if r.result, r.detail = k.judge(ev.Object); r.result != pending {
		r.done = now
		r.unchanged = ev.Object.Get("status", "unchanged") == true
		r.cached = ev.Object.String("status", "cachedFrom") != ""
		delete(k.open, name)
		k.finished = append(k.finished, r)
	}
}

func (k *kindTracker) add(name string, o client.Object, now time.Time) *record {
	r := &record{name: name, component: o.String("spec", "component"), app: o.String("spec", "application"), seen: now, start: now}
	if t, ok := k.direct[name]; ok {
		r.direct, r.start = true, t
		delete(k.direct, name)
	}
	k.recs[name], k.open[name] = r, r
	return r
}

// expect registers a build the driver is about to create, with the time
// its commit started.
func (k *kindTracker) expect(name string, start time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.direct[name] = start
}

// openCount is how many objects are not finished.
func (k *kindTracker) openCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.open)
}

// queue counts unfinished builds waiting and running.
func (k *kindTracker) queue() (queued, running int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, r := range k.open {
		if r.phase == "Running" {
			running++
		} else {
			queued++
		}
	}
	return queued, running
}

// busy says whether component has an unfinished build.
func (k *kindTracker) busy(component string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, r := range k.open {
		if r.component == component {
			return true
		}
	}
	return false
}

// openNames lists unfinished objects with their phase.
func (k *kindTracker) openNames() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, r := range k.open {
		out = append(out, fmt.Sprintf("%s/%s (%s, since %s)", k.resource, r.name, r.phase, r.seen.Format(time.TimeOnly)))
	}
	return out
}

// finishedBetween returns the records that finished in (from, to].
func (k *kindTracker) finishedBetween(from, to time.Time) []*record {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []*record
	for _, r := range k.finished {
		if r.done.After(from) && !r.done.After(to) {
			out = append(out, r)
		}
	}
	return out
}

// seenSince returns the records first seen at or after t.
func (k *kindTracker) seenSince(t time.Time) []*record {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []*record
	for _, r := range k.recs {
		if !r.seen.Before(t) {
			out = append(out, r)
		}
	}
	return out
}

// randomName picks a tracked object (for gets), "" if none.
func (k *kindTracker) randomName(rng *rand.Rand) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.finished) == 0 {
		return ""
	}
	return k.finished[rng.IntN(len(k.finished))].name
}

func (k *kindTracker) watchErr() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// tracker follows builds, groups, snapshots (their tests) and releases.
type tracker struct {
	builds, groups, snapshots, releases *kindTracker
	cancel                              context.CancelFunc
	wg                                  sync.WaitGroup
}

// startTracker follows the soak's namespace until stop.
func startTracker(ctx context.Context, c *client.Client) (*tracker, error) {
	t := &tracker{
		builds:    newKindTracker("builds", phaseJudge),
		groups:    newKindTracker("buildgroups", phaseJudge),
		snapshots: newKindTracker("snapshots", testsJudge),
		releases:  newKindTracker("releases", phaseJudge),
	}
	ctx, t.cancel = context.WithCancel(ctx)
	for _, k := range t.all() {
		if err := k.follow(ctx, c, &t.wg); err != nil {
			t.stop()
			return nil, err
		}
	}
	return t, nil
}

// stop ends the watches and waits for them: the records are final.
func (t *tracker) stop() {
	t.cancel()
	t.wg.Wait()
}

func (t *tracker) all() []*kindTracker {
	return []*kindTracker{t.builds, t.groups, t.snapshots, t.releases}
}

// idle says nothing is unfinished.
func (t *tracker) idle() bool {
	for _, k := range t.all() {
		if k.openCount() > 0 {
			return false
		}
	}
	return true
}

func (t *tracker) err() error {
	for _, k := range t.all() {
		if err := k.watchErr(); err != nil {
			return err
		}
	}
	return nil
}

// phaseJudge judges Builds, BuildGroups and Releases by status.phase.
func phaseJudge(o client.Object) (outcome, string) {
	switch phase := o.String("status", "phase"); phase {
	case "Succeeded":
		return passed, ""
	case "Failed", "Cancelled":
		msg := o.String("status", "message")
		if msg == "" {
			msg = conditionMessage(o, "Released")
		}
		return failed, phase + ": " + msg
	}
	return pending, ""
}

// testsJudge judges Snapshots by their TestsPassed condition.
func testsJudge(o client.Object) (outcome, string) {
	for _, c := range o.Slice("status", "conditions") {
		m, _ := c.(map[string]any)
		if m["type"] != "TestsPassed" {
			continue
		}
		switch m["status"] {
		case "True":
			return passed, ""
		case "False":
			return failed, fmt.Sprint(m["message"])
		}
	}
	return pending, ""
}

func conditionMessage(o client.Object, typ string) string {
	for _, c := range o.Slice("status", "conditions") {
		if m, _ := c.(map[string]any); m["type"] == typ {
			return fmt.Sprint(m["message"])
		}
	}
	return ""
}
