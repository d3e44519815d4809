package buildgroup

import (
	"fmt"
	"slices"
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
	// Bootstrap are the spec.build.bootstrap.params of the components that
	// have them: how each builds when a cycle member it requires has no
	// artifact yet.
	Bootstrap map[string][]v1alpha1.Param
}

// Start is a build Advance decided to start.
type Start struct {
	Component string
	Build     string
	Inputs    []v1alpha1.BuildInput
	// Params override the component's parameters: its bootstrap
	// parameters for a bootstrap build, else none.
	Params []v1alpha1.Param
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
	wait, failed, changed := a.requirements(m)
	if wait {
		return false
	}
	if failed != "" {
		m.State, m.Message = v1alpha1.MemberBlocked, failed
		return true
	}
	for _, d := range a.w.Deps[m.Component] {
		if a.w.Pending[d] && a.member(d) == nil {
			return false
		}
	}
	if !m.Requested && !changed && m.Pass < 2 {
		m.State, m.Message = v1alpha1.MemberUnchanged, "not rebuilt: no requirement changed"
		if cur, ok := a.w.Current[m.Component]; ok {
			m.Digest = cur.Digest
		}
		return true
	}
	if m.Pass < 2 {
		m.BootstrapWithout = nil // decided again (a retry)
	}
	inputs, problem, final := a.inputs(m)
	if problem != "" {
		m.State, m.Message = final, problem
		return true
	}
	a.start(m, inputs)
	return true
}

// requirements looks at the members m requires, in order, up to the
// first that keeps it waiting (wait) or did not build (failed: why m is
// blocked); changed is set when one's output changed.
func (a *advancer) requirements(m *v1alpha1.GroupMember) (wait bool, failed string, changed bool) {
	for _, d := range m.DependsOn {
		dm := a.member(d)
		if a.usesPrevious(m, dm) {
			continue
		}
		sameCycle := m.Cycle != 0 && dm.Cycle == m.Cycle
		if sameCycle && !v1alpha1.FinalMemberState(dm.State) || !sameCycle && !a.settled(dm) {
			return true, "", changed
		}
		if f := a.failure(m, dm); f != "" {
			return false, f, changed
		}
		changed = changed || dm.Changed
	}
	return false, "", changed
}

// failure says why dep is no requirement m can build against: it did not
// build, or it is in another cycle, one of whose members did not build
// (the cycle's artifacts are not a consistent whole).
func (a *advancer) failure(m, dep *v1alpha1.GroupMember) string {
	if bad(dep.State) {
		return "dependency failed: " + dep.Component
	}
	if dep.Cycle == 0 || dep.Cycle == m.Cycle {
		return ""
	}
	for _, o := range a.st.Members {
		if o.Cycle == dep.Cycle && bad(o.State) {
			return fmt.Sprintf("dependency failed: %s (in cycle %s, %s did not build)", dep.Component, a.st.Cycles[dep.Cycle-1].Path, o.Component)
		}
	}
	return ""
}

// bad reports whether a member state means it did not build.
func bad(state string) bool {
	switch state {
	case v1alpha1.MemberFailed, v1alpha1.MemberBlocked, v1alpha1.MemberCancelled, v1alpha1.MemberUnresolvable:
		return true
	}
	return false
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
// else the component's current (or bootstrap) artifact. In a cycle's first
// pass, a member of its cycle with no artifact is left out when m has
// bootstrap params: it is added to m.BootstrapWithout, and the build is
// m's bootstrap build.
func (a *advancer) inputs(m *v1alpha1.GroupMember) ([]v1alpha1.BuildInput, string, string) {
	var out []v1alpha1.BuildInput
	for _, d := range a.w.Deps[m.Component] {
		if m.Pass < 2 && slices.Contains(m.BootstrapWithout, d) {
			continue
		}
		art, ok := a.pin(d)
		if ok {
			out = append(out, v1alpha1.BuildInput{Component: d, Repository: art.Repository, Digest: art.Digest})
			continue
		}
		dm := a.member(d)
		switch {
		case dm == nil || dm.Cycle == 0 || dm.Cycle != m.Cycle:
			return nil, "dependency " + d + " has no artifact yet", v1alpha1.MemberBlocked
		case m.Pass >= 2:
			return nil, "dependency " + d + " has no artifact after the first pass of cycle " + a.cyclePath(m), v1alpha1.MemberBlocked
		case len(a.w.Bootstrap[m.Component]) == 0:
			return nil, fmt.Sprintf("cycle %s needs a bootstrap: %s has no artifact yet; set spec.build.bootstrap.params on %s "+
				"(how to build it without %s first, e.g. a Debian build profile) or spec.build.bootstrapArtifact on %s to a seed artifact",
				a.cyclePath(m), d, m.Component, d, d), v1alpha1.MemberUnresolvable
		}
		m.BootstrapWithout = append(m.BootstrapWithout, d)
	}
	return out, "", ""
}

// pin is the artifact a dependant builds d against: the group's, else d's
// current (or bootstrap) artifact; ok is false when there is none.
func (a *advancer) pin(d string) (Artifact, bool) {
	art, ok := a.w.Current[d]
	if dm := a.member(d); dm != nil && dm.Digest != "" && v1alpha1.FinalMemberState(dm.State) {
		art.Digest, ok = dm.Digest, true
		if b, found := a.w.Builds[dm.Build]; found && b.Artifact.Repository != "" && dm.State == v1alpha1.MemberSucceeded {
			art.Repository = b.Artifact.Repository
		}
	}
	return art, ok && art.Digest != "" && art.Repository != ""
}

func (a *advancer) cyclePath(m *v1alpha1.GroupMember) string { return a.st.Cycles[m.Cycle-1].Path }

// bootstrapping reports whether m's current build is its bootstrap build.
func bootstrapping(m v1alpha1.GroupMember) bool { return m.Pass < 2 && len(m.BootstrapWithout) > 0 }

// ownReason reports whether the group itself caused m's build: its reason
// is then reasonFor's, not the group's.
func ownReason(m v1alpha1.GroupMember) bool { return !m.Requested || m.Pass == 2 || bootstrapping(m) }

func (a *advancer) start(m *v1alpha1.GroupMember, inputs []v1alpha1.BuildInput) {
	name := BuildName(a.group, m.Component, len(m.Builds)+1)
	m.State, m.Build, m.Message = v1alpha1.MemberBuilding, name, ""
	m.Builds = append(m.Builds, name)
	a.starts = append(a.starts, a.startOf(*m, inputs))
}

// startOf is the build of m (building) with inputs: its params and reason
// follow from the member's record.
func (a *advancer) startOf(m v1alpha1.GroupMember, inputs []v1alpha1.BuildInput) Start {
	s := Start{Component: m.Component, Build: m.Build, Inputs: inputs, Params: a.params(m)}
	if ownReason(m) {
		s.Reason = reasonFor(a.group, a.st, m, s.Params)
	}
	return s
}

// Decided recomputes the build Advance started for a building member
// (from the member's record and the same world), for the controller to
// create it, also in a later reconcile.
func Decided(group string, st *v1alpha1.BuildGroupStatus, m v1alpha1.GroupMember, w World) Start {
	a := &advancer{group: group, st: st, w: w, idx: indexOf(st.Members)}
	inputs, _, _ := a.inputs(&m)
	return a.startOf(m, inputs)
}

// params are the parameters m's build overrides: its bootstrap params
// for its bootstrap build.
func (a *advancer) params(m v1alpha1.GroupMember) []v1alpha1.Param {
	if !bootstrapping(m) {
		return nil
	}
	return slices.Clone(a.w.Bootstrap[m.Component])
}

// reasonFor explains a member's build that the group itself caused: a
// cycle's bootstrap build (with params) or second pass, or the first
// member it requires whose output changed.
func reasonFor(group string, st *v1alpha1.BuildGroupStatus, m v1alpha1.GroupMember, params []v1alpha1.Param) v1alpha1.BuildReason {
	by := "group " + group
	switch {
	case bootstrapping(m):
		return v1alpha1.BuildReason{Type: v1alpha1.ReasonCycle, By: by,
			Message: fmt.Sprintf("bootstrap of cycle %s: built without %s (no artifact yet), with params %s; the second pass rebuilds it against them",
				st.Cycles[m.Cycle-1].Path, strings.Join(m.BootstrapWithout, ", "), formatParams(params))}
	case m.Pass == 2 && len(m.BootstrapWithout) > 0:
		return v1alpha1.BuildReason{Type: v1alpha1.ReasonCycle, By: by,
			Message: fmt.Sprintf("second pass of cycle %s: rebuilt with its own params against %s, which its bootstrap build was built without",
				st.Cycles[m.Cycle-1].Path, strings.Join(m.BootstrapWithout, ", "))}
	case m.Pass == 2:
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

// formatParams writes params as name=value, comma-separated.
func formatParams(ps []v1alpha1.Param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name + "=" + p.Value
	}
	return strings.Join(parts, ", ")
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
		if len(m.BootstrapWithout) > 0 {
			m.State, m.Message = v1alpha1.MemberQueued, "second pass: its bootstrap build was built without "+strings.Join(m.BootstrapWithout, ", ")
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
	failed := 0
	for _, m := range st.Members {
		if v1alpha1.FinalMemberState(m.State) {
			st.Done++
		}
		if bad(m.State) {
			failed++
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
	case failed > 0:
		st.Phase, st.Message = v1alpha1.GroupFailed, fmt.Sprintf("%d of %d members did not build", failed, st.Total)
	default:
		st.Phase, st.Message = v1alpha1.GroupSucceeded, fmt.Sprintf("%d members built or unchanged", st.Total)
	}
}

// Retry re-queues failed, blocked and cancelled members. A cycle with a
// re-queued member and none building starts over from its first pass, so
// its second pass rebuilds what the retried builds change (and a retried
// bootstrap build is a bootstrap build again).
func Retry(st *v1alpha1.BuildGroupStatus) int {
	n := 0
	retried := map[int]bool{}
	for i := range st.Members {
		m := &st.Members[i]
		switch m.State {
		case v1alpha1.MemberFailed, v1alpha1.MemberBlocked, v1alpha1.MemberCancelled:
			m.State, m.Message = v1alpha1.MemberQueued, "retry"
			retried[m.Cycle] = m.Cycle > 0
			n++
		}
	}
	for _, m := range st.Members {
		if m.State == v1alpha1.MemberBuilding {
			retried[m.Cycle] = false
		}
	}
	for i := range st.Members {
		if m := &st.Members[i]; retried[m.Cycle] {
			m.Pass = 1
		}
	}
	return n
}
