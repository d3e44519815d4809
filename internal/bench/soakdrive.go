package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kilnbuild/kiln/internal/client"
)

// driverTick is how often the driver checks its schedule.
const driverTick = 20 * time.Millisecond

// maxCreateFailures ends the soak after this many failed commits or
// creates in a row.
const maxCreateFailures = 10

// driver commits to the components' repositories and creates each
// commit's build, as `kiln build COMPONENT --revision COMMIT` does, so
// that the builds it expects (each commit's own and its cascade) keep up
// with Builds/Duration. It never lets more than MaxBacklog builds be
// unfinished, nor commits to a component with an unfinished build.
type driver struct {
	s        *soak
	c        *client.Client
	tr       *tracker
	rate     float64 // builds per second
	order    []*soakComponent
	next     int
	cascades map[string]int

	start, end time.Time
	commits    int
	byLevel    map[string]int
	expected   float64
	throttled  time.Duration
	failures   int // in a row
	errors     int
	lastErr    string
}

func newDriver(s *soak, c *client.Client, tr *tracker) *driver {
	d := &driver{s: s, c: c, tr: tr, rate: float64(s.o.Builds) / s.o.Duration.Seconds(),
		cascades: map[string]int{}, byLevel: map[string]int{}}
	d.order = append(d.order, s.comps...)
	rng := rand.New(rand.NewPCG(s.o.Seed, 0))
	rng.Shuffle(len(d.order), func(i, j int) { d.order[i], d.order[j] = d.order[j], d.order[i] })
	for _, c := range s.comps {
		d.cascades[c.Name] = cascade(s.comps, c)
	}
	return d
}

// run drives until Builds are expected or Duration has passed.
func (d *driver) run(ctx context.Context) error {
	d.start = time.Now()
	defer func() { d.end = time.Now() }()
	deadline := d.start.Add(d.s.o.Duration)
	for {
		now := time.Now()
		if d.expected >= float64(d.s.o.Builds) || !now.Before(deadline) {
			return nil
		}
		if err := d.tr.err(); err != nil {
			return err
		}
		behind := d.expected < d.rate*now.Sub(d.start).Seconds()
		if behind {
			made, err := d.step(ctx)
			if err != nil {
				return err
			}
			if made {
				continue
			}
		}
		slept := time.Now()
		if !sleepCtx(ctx, driverTick) {
			return ctx.Err()
		}
		if behind {
			d.throttled += time.Since(slept)
		}
	}
}

// step makes one commit and build when the backlog allows; made is false
// when it could not (the caller waits).
func (d *driver) step(ctx context.Context) (made bool, err error) {
	if d.tr.builds.openCount() >= d.s.o.MaxBacklog {
		return false, nil
	}
	c := d.pick()
	if c == nil {
		return false, nil
	}
	if err := d.build(ctx, c); err != nil {
		d.failures++
		d.errors++
		d.lastErr = err.Error()
		if d.failures >= maxCreateFailures {
			return false, fmt.Errorf("%d commits or builds failed in a row; the last: %w", d.failures, err)
		}
		return false, nil
	}
	d.failures = 0
	return true, nil
}

// pick returns the next component in the shuffled round without an
// unfinished build, or nil.
func (d *driver) pick() *soakComponent {
	for i := range d.order {
		c := d.order[(d.next+i)%len(d.order)]
		if !d.tr.builds.busy(c.Name) {
			d.next = (d.next + i + 1) % len(d.order)
			return c
		}
	}
	return nil
}

// build commits a change to c and creates the build of that commit
// against the current artifacts of what c requires.
func (d *driver) build(ctx context.Context, c *soakComponent) error {
	start := time.Now()
	c.commits++
	commit, err := commitChange(ctx, c.repo, c.commits)
	if err != nil {
		return fmt.Errorf("committing to %s: %w", c.Name, err)
	}
	spec := map[string]any{"component": c.Name, "revision": commit,
		"reason": map[string]any{"type": "manual", "by": "kiln-bench-soak"}}
	if err := d.addInputs(ctx, c, spec); err != nil {
		return err
	}
	name := fmt.Sprintf("%s-s%d", c.Name, c.commits)
	d.tr.builds.expect(name, start)
	obj := client.Object{"apiVersion": "kiln.dev/v1alpha1", "kind": "Build", "metadata": map[string]any{"name": name, "namespace": soakNamespace}, "spec": spec}
	if err := d.s.create(ctx, d.c, obj); err != nil {
		return err
	}
	d.commits++
	d.byLevel[c.Level]++
	d.expected += float64(d.cascades[c.Name])
	return nil
}

// addInputs pins the current artifacts of what c requires, as `kiln
// build` does.
func (d *driver) addInputs(ctx context.Context, c *soakComponent, spec map[string]any) error {
	var inputs []any
	for _, r := range c.Requires {
		in, err := d.s.latestArtifact(ctx, d.c, r)
		if err != nil {
			return err
		}
		inputs = append(inputs, in)
	}
	if len(inputs) > 0 {
		spec["inputs"] = inputs
	}
	return nil
}

// expectedPerCommit is the mean cascade over one round of the components.
func (d *driver) expectedPerCommit() float64 {
	sum := 0
	for _, n := range d.cascades {
		sum += n
	}
	return float64(sum) / float64(len(d.cascades))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
