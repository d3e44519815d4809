package buildgroup

import (
	"context"
	"sync"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/registry"
)

// heads resolves the branch head of each named component (in parallel,
// at most 4 fetches at once). A component whose head cannot be fetched is
// left out: it builds its branch head at run time, as before.
func (c *Controller) heads(ctx context.Context, comps map[string]*v1alpha1.Component, names []string) map[string]string {
	out := map[string]string{}
	if c.Git == nil {
		return out
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, name := range names {
		comp := comps[name]
		g := comp.Spec.Source.Git
		if g == nil || (c.CheckURL != nil && c.CheckURL(g.URL) != nil) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			commit, err := c.Git.Fetch(ctx, g.URL, g.Revision)
			if err != nil {
				c.Log.Warn("group planning: fetching the branch head", "component", comp.Namespace+"/"+comp.Name, "err", err)
				return
			}
			mu.Lock()
			out[name] = commit
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// refresh re-reads the capabilities of members whose head moved past the
// commit their capabilities were detected at; it reports whether any
// changed (then the plan is recomputed once).
func (c *Controller) refresh(ctx context.Context, comps map[string]*v1alpha1.Component, heads map[string]string) bool {
	changed := false
	for name, commit := range heads {
		comp := comps[name]
		if caps := comp.Status.Capabilities; caps != nil && caps.Commit == commit {
			continue
		}
		caps, err := c.detectAt(ctx, comp, comp.Spec.Source.Git, commit)
		if err != nil {
			c.Log.Warn("group planning: detecting capabilities", "component", comp.Namespace+"/"+comp.Name, "commit", commit, "err", err)
			continue
		}
		if !sameCapabilities(comp.Status.Capabilities, caps) {
			changed = true
		}
		comp.Status.Capabilities = caps
		// Record them: the group's later steps (inputs, blocking) read the
		// components' capabilities from the store.
		_, err = registry.UpdateStatus(ctx, c.reg, comp.Namespace, comp.Name, func(cur *v1alpha1.Component) error {
			cur.Status.Capabilities = caps
			return nil
		})
		if err != nil {
			c.Log.Warn("group planning: recording capabilities", "component", comp.Namespace+"/"+comp.Name, "err", err)
		}
	}
	return changed
}

func sameCapabilities(a, b *v1alpha1.Capabilities) bool {
	if a == nil || b == nil {
		return a == b
	}
	return equalStrings(a.Provides, b.Provides) && equalStrings(a.Requires, b.Requires)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
