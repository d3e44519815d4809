package buildgroup

import (
	"fmt"
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// BuildView is what Advance needs to know of a member's build.
type BuildView struct {
	Phase     string
	Unchanged bool
	// Unresolvable: the build failed resolving its build dependencies.
	Unresolvable bool
	Artifact     Artifact
	Message      string
}

// Artifact is a component's artifact.
type Artifact struct {
	Repository, Digest string
}

// World is what the controller observed.
type World struct {
	// Builds are the members' builds by name; a missing one is not created
	// yet.
	Builds map[string]BuildView
	// Current is each component's current artifact (or bootstrap artifact),
	// also for components outside the group.
	Current map[string]Artifact
	// Deps are each member's resolved dependencies, inside the group or not.
	Deps map[string][]string
	// Cancel is the group's spec.cancel.
	Cancel bool
	// Pending are components outside the group with no artifact yet whose
	// build is under way: their dependants wait instead of being blocked.
	Pending map[string]bool
}

// Start is a build Advance decided to start.
type Start struct {
	Component string
	Build     string
	Inputs    []v1alpha1.BuildInput
	// Reason is empty for requested members (the group's reason applies).
	Reason v1alpha1.BuildReason
}

// BuildName is the deterministic name of a member's n-th build (from 1), so
// a retried reconcile never creates a build twice.
func BuildName(group, component string, n int) string {
	return v1alpha1.FitName(fmt.Sprintf("%s-%s-%d", group, component, n))
}

// Advance moves members along until nothing changes and returns the builds
// to start. It only changes st.
func Advance(group string, st *v1alpha1.BuildGroupStatus, w World) []Start {
	a := &advancer{group: group, st: st, w: w, idx: map[string]int{}}
	for i, m := range st.Members {
		a.idx[m.Component] = i
	}
	for changed := true; changed; {
		changed = false
		for i := range st.Members {
			if a.step(&st.Members[i]) {
				changed = true
			}
		}
		for c := 1; c <= len(st.Cycles); c++ {
			if a.secondPass(c) {
				changed = true
			}
		}
	}
	a.summarise()
	return a.starts
}

type advancer struct {
	group  string
	st     *v1alpha1.BuildGroupStatus
	w      World
	idx    map[string]int
	starts []Start
}

func (a *advancer) member(name string) *v1alpha1.GroupMember {
	i, ok := a.idx[name]
	if !ok {
		return nil
	}
	return &a.st.Members[i]
}

// step advances one member; it reports whether the member changed.
func (a *advancer) step(m *v1alpha1.GroupMember) bool {
	switch m.State {
	case v1alpha1.MemberBuilding:
		return a.observe(m)
	case v1alpha1.MemberQueued:
		return a.consider(m)
	}
	return false
}

// observe takes a finished build's outcome.
func (a *advancer) observe(m *v1alpha1.GroupMember) bool {
	b, ok := a.w.Builds[m.Build]
	if !ok {
		return false
	}
	switch b.Phase {
	case v1alpha1.BuildSucceeded:
		if b.Unchanged {
			m.State, m.Message = v1alpha1.MemberUnchanged, "output identical to the previous artifact: nothing downstream needs it"
			if cur, ok := a.w.Current[m.Component]; ok {
				m.Digest = cur.Digest
			}
			if m.Changed { // changed in the first pass of a cycle
				m.State = v1alpha1.MemberSucceeded
			}
			return true
		}
		m.State, m.Changed, m.Digest, m.Message = v1alpha1.MemberSucceeded, true, b.Artifact.Digest, ""
	case v1alpha1.BuildFailed:
		m.State, m.Message = v1alpha1.MemberFailed, b.Message
		if b.Unresolvable {
			m.State = v1alpha1.MemberUnresolvable
		}
	case v1alpha1.BuildCancelled:
		m.State, m.Message = v1alpha1.MemberCancelled, "build cancelled"
	default:
		return false
	}
	return true
}

// consider starts, blocks or skips a queued member once its requirements
// have settled.
func (a *advancer) consider(m *v1alpha1.GroupMember) bool {
	if a.w.Cancel {
		m.State, m.Message = v1alpha1.MemberCancelled, "group cancelled"
		return true
	}
	var changedDep *v1alpha1.GroupMember
	for _, d := range m.DependsOn {
		dm := a.member(d)
		if a.usesPrevious(m, dm) {
			continue
		}
		sameCycle := m.Cycle != 0 && dm.Cycle == m.Cycle
		if sameCycle && !v1alpha1.FinalMemberState(dm.State) || !sameCycle && !a.settled(dm) {
			return false
		}
		switch dm.State {
		case v1alpha1.MemberFailed, v1alpha1.MemberBlocked, v1alpha1.MemberCancelled, v1alpha1.MemberUnresolvable:
			m.State, m.Message = v1alpha1.MemberBlocked, "dependency failed: "+d
			return true
		}
		if dm.Changed && changedDep == nil {
			changedDep = dm
		}
	}
	for _, d := range a.w.Deps[m.Component] {
		if a.w.Pending[d] && a.member(d) == nil {
			return false
		}
	}
	if !m.Requested && changedDep == nil && m.Pass < 2 {
		m.State, m.Message = v1alpha1.MemberUnchanged, "not rebuilt: no requirement changed"
		if cur, ok := a.w.Current[m.Component]; ok {
			m.Digest = cur.Digest
		}
		return true
	}
	inputs, problem, final := a.inputs(m)
	if problem != "" {
		m.State, m.Message = final, problem
		return true
	}
	a.start(m, inputs)
	return true
}

// usesPrevious reports whether m builds against dep's previous artifact:
// dep is later in m's cycle and this is the first pass.
func (a *advancer) usesPrevious(m, dep *v1alpha1.GroupMember) bool {
	if m.Cycle == 0 || dep.Cycle != m.Cycle {
		return false
	}
	if m.Pass < 2 {
		return a.idx[dep.Component] > a.idx[m.Component]
	}
	return dep.State != v1alpha1.MemberQueued && dep.State != v1alpha1.MemberBuilding || a.idx[dep.Component] > a.idx[m.Component]
}

// settled reports whether dep's output is final for its dependants: it is
// in a final state and, when in a cycle, the cycle is complete.
func (a *advancer) settled(dep *v1alpha1.GroupMember) bool {
	if !v1alpha1.FinalMemberState(dep.State) {
		return false
	}
	if dep.Cycle == 0 {
		return true
	}
	for _, o := range a.st.Members {
		if o.Cycle == dep.Cycle && (!v1alpha1.FinalMemberState(o.State) || o.Pass < 2) {
			return false
		}
	}
	return true
}

// inputs pins every requirement's artifact: the one the group produced,
// else the component's current (or bootstrap) artifact.
func (a *advancer) inputs(m *v1alpha1.GroupMember) ([]v1alpha1.BuildInput, string, string) {
	var out []v1alpha1.BuildInput
	for _, d := range a.w.Deps[m.Component] {
		art, ok := a.w.Current[d]
		if dm := a.member(d); dm != nil && dm.Digest != "" && v1alpha1.FinalMemberState(dm.State) {
			art.Digest, ok = dm.Digest, true
			if b, found := a.w.Builds[dm.Build]; found && b.Artifact.Repository != "" && dm.State == v1alpha1.MemberSucceeded {
				art.Repository = b.Artifact.Repository
			}
		}
		if !ok || art.Digest == "" || art.Repository == "" {
			if dm := a.member(d); dm != nil && dm.Cycle != 0 && dm.Cycle == m.Cycle {
				return nil, fmt.Sprintf("cycle %s needs a bootstrap: %s has no artifact yet; set spec.build.bootstrapArtifact on %s to a seed artifact",
					a.st.Cycles[m.Cycle-1].Path, d, d), v1alpha1.MemberUnresolvable
			}
			return nil, "dependency " + d + " has no artifact yet", v1alpha1.MemberBlocked
		}
		out = append(out, v1alpha1.BuildInput{Component: d, Repository: art.Repository, Digest: art.Digest})
	}
	return out, "", ""
}

func (a *advancer) start(m *v1alpha1.GroupMember, inputs []v1alpha1.BuildInput) {
	name := BuildName(a.group, m.Component, len(m.Builds)+1)
	s := Start{Component: m.Component, Build: name, Inputs: inputs}
	if !m.Requested || m.Pass == 2 {
		s.Reason = reasonFor(a.group, a.st, *m)
	}
	m.State, m.Build, m.Message = v1alpha1.MemberBuilding, name, ""
	m.Builds = append(m.Builds, name)
	a.starts = append(a.starts, s)
}

// reasonFor explains a member's build that the group itself caused: the
// cycle's second pass, or the first member it requires whose output
// changed.
func reasonFor(group string, st *v1alpha1.BuildGroupStatus, m v1alpha1.GroupMember) v1alpha1.BuildReason {
	by := "group " + group
	if m.Pass == 2 {
		return v1alpha1.BuildReason{Type: v1alpha1.ReasonCycle, By: by,
			Message: "second pass of cycle " + st.Cycles[m.Cycle-1].Path + ": inputs changed in the first"}
	}
	idx := indexOf(st.Members)
	for _, d := range m.DependsOn {
		if dm := st.Members[idx[d]]; dm.Changed {
			return v1alpha1.BuildReason{Type: v1alpha1.ReasonDependencyChange, By: by,
				Component: d, Build: dm.Build, OldDigest: dm.PreviousDigest, NewDigest: dm.Digest,
				Message: fmt.Sprintf("%s changed: %s -> %s", d, short(dm.PreviousDigest), short(dm.Digest))}
		}
	}
	return v1alpha1.BuildReason{Type: v1alpha1.ReasonDependencyChange, By: by, Message: m.Message}
}

func short(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if d == "" {
		return "(none)"
	}
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// secondPass starts a cycle's second pass once every member finished the
// first: members that used the previous artifact of a member whose output
// then changed are queued again. It reports whether anything changed.
func (a *advancer) secondPass(c int) bool {
	var ms []*v1alpha1.GroupMember
	for i := range a.st.Members {
		m := &a.st.Members[i]
		if m.Cycle != c {
			continue
		}
		if !v1alpha1.FinalMemberState(m.State) || m.Pass != 1 {
			return false
		}
		ms = append(ms, m)
	}
	for _, m := range ms {
		m.Pass = 2
		if m.State != v1alpha1.MemberSucceeded && m.State != v1alpha1.MemberUnchanged {
			continue
		}
		for _, d := range m.DependsOn {
			dm := a.member(d)
			if dm.Cycle == c && a.idx[d] > a.idx[m.Component] && dm.Changed {
				m.State, m.Message = v1alpha1.MemberQueued, "second pass: "+d+" changed after "+m.Component+" was built against its previous artifact"
				break
			}
		}
	}
	return true
}

// summarise sets the counters and the phase.
func (a *advancer) summarise() {
	st := a.st
	st.Total, st.Done = len(st.Members), 0
	bad := 0
	for _, m := range st.Members {
		if v1alpha1.FinalMemberState(m.State) {
			st.Done++
		}
		switch m.State {
		case v1alpha1.MemberFailed, v1alpha1.MemberBlocked, v1alpha1.MemberUnresolvable, v1alpha1.MemberCancelled:
			bad++
		}
	}
	pending := st.Done < st.Total
	for c := 1; c <= len(st.Cycles) && !pending; c++ {
		for _, m := range st.Members {
			if m.Cycle == c && m.Pass < 2 {
				pending = true
			}
		}
	}
	switch {
	case pending:
		st.Phase = v1alpha1.GroupRunning
	case a.w.Cancel:
		st.Phase, st.Message = v1alpha1.GroupCancelled, "cancelled"
	case bad > 0:
		st.Phase, st.Message = v1alpha1.GroupFailed, fmt.Sprintf("%d of %d members did not build", bad, st.Total)
	default:
		st.Phase, st.Message = v1alpha1.GroupSucceeded, fmt.Sprintf("%d members built or unchanged", st.Total)
	}
}

// Retry re-queues failed, blocked and cancelled members.
func Retry(st *v1alpha1.BuildGroupStatus) int {
	n := 0
	for i := range st.Members {
		m := &st.Members[i]
		switch m.State {
		case v1alpha1.MemberFailed, v1alpha1.MemberBlocked, v1alpha1.MemberCancelled:
			m.State, m.Message = v1alpha1.MemberQueued, "retry"
			n++
		}
	}
	return n
}
