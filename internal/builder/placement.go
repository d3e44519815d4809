package builder

import (
	"fmt"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/executor"
)

// localSlots is how many builds run on this server.
func (c *Controllers) localSlots() int {
	if c.LocalOff {
		return 0
	}
	return c.Workers
}

// SetRemoteCapacity tells admission how many builds the remote workers can
// run now: the fair queue admits up to the local slots plus n.
func (c *Controllers) SetRemoteCapacity(n int) {
	if c.adm == nil || c.Remote == nil {
		return
	}
	c.adm.update(func(q *fairQueue) { q.SetGlobal(c.localSlots() + min(max(n, 0), MaxRemoteSlots)) })
}

// place decides where an admitted build runs: here while a local slot is
// free and the build is of this server's platform, else on a remote
// worker. done frees the local slot.
func (c *Controllers) place(comp *v1alpha1.Component) (remote executor.Remote, done func(), err error) {
	nothing := func() {}
	if p := comp.Spec.Build; p != nil && p.Platform != "" && p.Platform != c.Platform {
		if c.Remote == nil {
			return nil, nothing, fmt.Errorf("spec.build.platform is %s: this server builds for %s and dispatches to no remote workers (kiln up --executor local+remote)", p.Platform, c.Platform)
		}
		return c.Remote, nothing, nil
	}
	if c.Remote == nil {
		return nil, nothing, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.localBusy >= c.localSlots() {
		return c.Remote, nothing, nil
	}
	c.localBusy++
	return nil, func() {
		c.mu.Lock()
		c.localBusy--
		c.mu.Unlock()
	}, nil
}
