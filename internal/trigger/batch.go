package trigger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/registry"
)

// Batching: commits seen within a short window for components of the same
// application become one BuildGroup — a push touching several
// repositories, or many components applied at once, is planned together in
// dependency order instead of as independent builds that race. A lone
// commit still becomes a single build.
//
// The commit is recorded on the Component (status.pendingCommit) before it
// is batched, so a crash inside the window loses nothing: the first-build
// controller finds pending commits when Kiln starts and batches them again.

// byPending is the trigger of a commit batched again from
// status.pendingCommit (after a restart, or by the first-build controller
// seeing the status write): any real trigger of the same commit wins.
const byPending = "pending"

// DefaultBatchWindow is how long Kiln waits for more commits after one
// arrives before it builds.
const DefaultBatchWindow = time.Second

// maxBatchWait bounds how long a busy stream of commits delays a batch.
const maxBatchWait = 10 * time.Second

type pending struct {
	name, commit, by string
	newComponent     bool
}

type batch struct {
	ns, app string
	items   map[string]pending
	first   time.Time
	timer   *time.Timer
}

// batcher collects commits per application and flushes each batch when
// no commit arrived for window (or maxBatchWait after the first).
type batcher struct {
	window time.Duration
	flush  func(ns, app string, items []pending)
	mu     sync.Mutex
	open   map[string]*batch
	now    func() time.Time
}

func newBatcher(window time.Duration, flush func(ns, app string, items []pending)) *batcher {
	return &batcher{window: window, flush: flush, open: map[string]*batch{}, now: time.Now}
}

// add puts a commit in its application's batch (a newer commit of the
// same component replaces the older one).
func (b *batcher) add(ns, app string, p pending) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := ns + "/" + app
	bt := b.open[key]
	if bt == nil {
		bt = &batch{ns: ns, app: app, items: map[string]pending{}, first: b.now()}
		b.open[key] = bt
	}
	if old, ok := bt.items[p.name]; ok {
		p.newComponent = p.newComponent || old.newComponent
		if old.commit == p.commit && (old.by != byPending || p.by == byPending) {
			p.by = old.by // the same commit again (a poll after the webhook): keep the first real trigger
		}
	}
	bt.items[p.name] = p
	wait := min(b.window, maxBatchWait-b.now().Sub(bt.first))
	if bt.timer != nil {
		bt.timer.Stop()
	}
	bt.timer = time.AfterFunc(max(wait, 0), func() { b.fire(key, bt) })
}

func (b *batcher) fire(key string, bt *batch) {
	b.mu.Lock()
	if b.open[key] != bt {
		b.mu.Unlock()
		return
	}
	delete(b.open, key)
	items := make([]pending, 0, len(bt.items))
	for _, p := range bt.items {
		items = append(items, p)
	}
	b.mu.Unlock()
	sort.Slice(items, func(i, j int) bool { return items[i].name < items[j].name })
	b.flush(bt.ns, bt.app, items)
}

// batchEvery turns batching on (window > 0) or off.
func (t *creator) batchEvery(window time.Duration) {
	t.batch = nil
	if window > 0 {
		t.batch = newBatcher(window, t.flushBatch)
	}
}

// flushBatch builds a batch: one build for a lone commit, else one group.
// A failure is retried after a window (the commits stay pending).
func (t *creator) flushBatch(ns, app string, items []pending) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := t.buildBatch(ctx, ns, app, items)
	if err == nil {
		return
	}
	t.log.Warn("building a batch of commits; retrying", "namespace", ns, "application", app, "components", len(items), "err", err)
	time.AfterFunc(t.batch.window, func() {
		for _, p := range items {
			t.batch.add(ns, app, p)
		}
	})
}

func (t *creator) buildBatch(ctx context.Context, ns, app string, items []pending) error {
	comps, live := map[string]*v1alpha1.Component{}, items[:0:0]
	for _, p := range items {
		c, err := registry.Get[v1alpha1.Component](ctx, t.reg, ns, p.name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if c.Status.LastSeenCommit == p.commit {
			continue // built meanwhile (another trigger of the same commit)
		}
		comps[p.name] = c
		live = append(live, p)
	}
	switch len(live) {
	case 0:
		return nil
	case 1:
		p := live[0]
		if err := t.create(ctx, comps[p.name], p.commit, p.by); err != nil {
			return err
		}
	default:
		if err := t.createGroup(ctx, ns, app, comps, live); err != nil {
			return err
		}
	}
	for _, p := range live {
		if err := t.markSeen(ctx, comps[p.name], p.commit); err != nil {
			return err
		}
	}
	return nil
}

// createGroup starts one BuildGroup for the batch's components.
func (t *creator) createGroup(ctx context.Context, ns, app string, comps map[string]*v1alpha1.Component, items []pending) error {
	g := &v1alpha1.BuildGroup{Spec: v1alpha1.BuildGroupSpec{Application: app, Reason: batchReason(comps, items)}}
	h := sha256.New()
	for _, p := range items {
		g.Spec.Components = append(g.Spec.Components, p.name)
		fmt.Fprintf(h, "%s@%s\n", p.name, p.commit)
	}
	g.Name, g.Namespace = BatchGroupName(app, hex.EncodeToString(h.Sum(nil))[:10]), ns
	g.Labels = map[string]string{v1alpha1.LabelApplication: v1alpha1.LabelValue(app)}
	_, err := t.reg.Create(ctx, groupKind, g, registry.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating build group %s for %d commits: %w", g.Name, len(items), err)
	}
	return nil
}

// BatchGroupName names the group of a batch of commits.
func BatchGroupName(app, hash string) string {
	return v1alpha1.FitName(app + "-batch-" + hash)
}

// batchReason explains a batch: new components, or branches that moved.
func batchReason(comps map[string]*v1alpha1.Component, items []pending) v1alpha1.BuildReason {
	var parts, by []string
	allNew := true
	for _, p := range items {
		c := comps[p.name]
		if p.newComponent || c.Status.LastSeenCommit == "" && c.Status.BuildCounter == 0 {
			parts = append(parts, p.name+" (new)")
		} else {
			allNew = false
			parts = append(parts, fmt.Sprintf("%s %s→%s", p.name, short(c.Status.LastSeenCommit), short(p.commit)))
		}
		if !contains(by, p.by) {
			by = append(by, p.by)
		}
	}
	r := v1alpha1.BuildReason{Type: v1alpha1.ReasonSourceChange, By: strings.Join(by, ","),
		Message: fmt.Sprintf("%d components changed together: %s", len(items), strings.Join(parts, ", "))}
	if allNew {
		r.Type, r.Message = v1alpha1.ReasonNewComponent, fmt.Sprintf("%d new components: %s", len(items), strings.Join(parts, ", "))
	}
	return r
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
