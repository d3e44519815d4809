package v1alpha1

import (
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// BuildGroup phases.
const (
	GroupPlanning  = "Planning"
	GroupRunning   = "Running"
	GroupSucceeded = "Succeeded"
	GroupFailed    = "Failed"
	GroupCancelled = "Cancelled"
)

// States of a group member.
const (
	MemberQueued       = "queued"       // waiting for its requirements
	MemberBlocked      = "blocked"      // a requirement failed
	MemberUnresolvable = "unresolvable" // a requirement nothing provides
	MemberBuilding     = "building"     // its build is scheduled or running
	MemberSucceeded    = "succeeded"    // built, with a new output
	MemberUnchanged    = "unchanged"    // output identical, or nothing it needs changed
	MemberFailed       = "failed"
	MemberCancelled    = "cancelled"
)

// BuildGroup builds a set of components and everything that depends on
// them, in dependency order: each build starts as soon as its own
// requirements are built. `kiln build --app A` and `kiln build C1 C2`
// create one; so does a build whose output changed, for its dependants.
type BuildGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              BuildGroupSpec   `json:"spec,omitempty"`
	Status            BuildGroupStatus `json:"status,omitzero"`
}

// BuildGroupSpec says what changed and why.
type BuildGroupSpec struct {
	// Application limits the graph to one application's components;
	// empty means every component of the namespace.
	Application string `json:"application,omitempty"`
	// Components are the components to build; their dependants are added
	// following each one's rebuild policy. Required, at least one.
	Components []string `json:"components"`
	// Reason says why the group exists; member builds record it.
	Reason BuildReason `json:"reason,omitzero"`
	// NoCache runs every member's pipeline even on identical inputs.
	NoCache bool `json:"noCache,omitempty"`
	// Cancel stops the group: queued members are cancelled, running
	// builds are cancelled.
	Cancel bool `json:"cancel,omitempty"`
	// Retry, when raised, re-queues the failed, blocked and cancelled
	// members; what succeeded is not built again.
	Retry int `json:"retry,omitempty"`
	// FromBuild is a finished build of one of the components whose output
	// is taken as this group's build of it (the group then rebuilds its
	// dependants): how a changed output triggers reverse-dependency
	// rebuilds.
	FromBuild string `json:"fromBuild,omitempty"`
}

// BuildGroupStatus is written by Kiln.
type BuildGroupStatus struct {
	// ObservedGeneration is the metadata.generation last acted upon.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase is Planning, Running, Succeeded, Failed or Cancelled.
	Phase string `json:"phase,omitempty"`
	// Message explains the phase.
	Message string `json:"message,omitempty"`
	// Total is the number of members.
	Total int `json:"total,omitempty"`
	// Done counts members in a final state.
	Done int `json:"done,omitempty"`
	// StartTime is when planning finished.
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the last member finished.
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Cycles are the dependency cycles among members, each as a path.
	Cycles []GroupCycle `json:"cycles,omitempty"`
	// Members are the components of the group, in planned build order.
	Members []GroupMember `json:"members,omitempty"`
	// Retried is the spec.retry value last acted upon.
	Retried int `json:"retried,omitempty"`
}

// GroupCycle is one strongly connected set of members.
type GroupCycle struct {
	// Members of the cycle.
	Members []string `json:"members"`
	// Path shows one cycle through them, e.g. "a -> b -> a".
	Path string `json:"path"`
}

// GroupMember is one component's progress in the group.
type GroupMember struct {
	// Component is the member.
	Component string `json:"component"`
	// State is queued, blocked, unresolvable, building, succeeded,
	// unchanged, failed or cancelled.
	State string `json:"state"`
	// Requested is set for the components named in the spec.
	Requested bool `json:"requested,omitempty"`
	// DependsOn are the members it requires.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Cycle is the index in cycles of the member's cycle, from 1; 0 when
	// it is in none.
	Cycle int `json:"cycle,omitempty"`
	// Pass is 1 or 2 for cycle members: the second pass rebuilds members
	// whose inputs changed during the first.
	Pass int `json:"pass,omitempty"`
	// Priority is the expected seconds from this member's start to the end
	// of the longest chain of members waiting for it; higher goes first.
	Priority float64 `json:"priority,omitempty"`
	// Build is the member's current build.
	Build string `json:"build,omitempty"`
	// Revision is the commit the member builds: its branch head when the
	// group was planned (its capabilities were read at that commit).
	Revision string `json:"revision,omitempty"`
	// Builds are all its builds in this group (a cycle's second pass adds
	// one).
	Builds []string `json:"builds,omitempty"`
	// PreviousDigest is the member's artifact when the group was planned.
	PreviousDigest string `json:"previousDigest,omitempty"`
	// Digest is the artifact current after the member finished.
	Digest string `json:"digest,omitempty"`
	// Changed is set when the member's output differs from before.
	Changed bool `json:"changed,omitempty"`
	// BootstrapWithout are the members of its cycle that its first-pass
	// build was built without, having no artifact yet: that build was its
	// bootstrap build (spec.build.bootstrap of the component); the second
	// pass rebuilds it against their new artifacts.
	BootstrapWithout []string `json:"bootstrapWithout,omitempty"`
	// Message explains the state, e.g. "dependency failed: libgreet".
	Message string `json:"message,omitempty"`
}

// FinalMemberState reports whether a member state is final.
func FinalMemberState(s string) bool {
	switch s {
	case MemberBlocked, MemberUnresolvable, MemberSucceeded, MemberUnchanged, MemberFailed, MemberCancelled:
		return true
	}
	return false
}

// Finished reports whether the group reached a final phase.
func (g *BuildGroup) Finished() bool {
	switch g.Status.Phase {
	case GroupSucceeded, GroupFailed, GroupCancelled:
		return true
	}
	return false
}

// Validate checks the spec.
func (g *BuildGroup) Validate() field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if len(g.Spec.Components) == 0 {
		errs = append(errs, field.Required(p.Child("components"), "name at least one component to build"))
	}
	seen := map[string]bool{}
	for i, c := range g.Spec.Components {
		errs = append(errs, refName(p.Child("components").Index(i), c, "Component")...)
		if seen[c] {
			errs = append(errs, field.Duplicate(p.Child("components").Index(i), c))
		}
		seen[c] = true
	}
	if g.Spec.Application != "" {
		errs = append(errs, refName(p.Child("application"), g.Spec.Application, "Application")...)
	}
	if g.Spec.Retry < 0 {
		errs = append(errs, field.Invalid(p.Child("retry"), g.Spec.Retry, "must not be negative"))
	}
	return errs
}

// ValidateCreate requires component names that fit a label value, as
// Component names do.
func (g *BuildGroup) ValidateCreate() field.ErrorList {
	var errs field.ErrorList
	for i, c := range g.Spec.Components {
		errs = append(errs, shortName(field.NewPath("spec", "components").Index(i), c, "Component", componentNameUse)...)
	}
	return errs
}

// ValidateUpdate allows only spec.cancel and spec.retry to change.
func (g *BuildGroup) ValidateUpdate(old Object) field.ErrorList {
	o := old.(*BuildGroup)
	before, after := o.Spec, g.Spec
	before.Cancel, after.Cancel, before.Retry, after.Retry = false, false, 0, 0
	if string(mustJSON(before)) != string(mustJSON(after)) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "only spec.cancel and spec.retry may change; create a new group instead")}
	}
	if g.Spec.Retry < o.Spec.Retry {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "retry"), g.Spec.Retry, fmt.Sprintf("may only grow (was %d)", o.Spec.Retry))}
	}
	return nil
}

func init() {
	register(&Kind{
		Group: Group, Version: Version, Kind: "BuildGroup",
		Plural: "buildgroups", Singular: "buildgroup", ShortNames: []string{"bg"},
		Namespaced: true, HasStatus: true,
		New:     func() Object { return &BuildGroup{} },
		Columns: groupColumns,
		Fields: func(o Object) map[string]string {
			g := o.(*BuildGroup)
			return map[string]string{"spec.application": g.Spec.Application, "status.phase": g.Status.Phase}
		},
	})
}

var groupColumns = []Column{
	{Name: "Phase", Type: "string", Value: func(o Object) string { return o.(*BuildGroup).Status.Phase }},
	{Name: "Progress", Type: "string", Value: func(o Object) string { return progressBar(o.(*BuildGroup)) }},
	{Name: "Building", Type: "string", Value: func(o Object) string { return membersIn(o.(*BuildGroup), MemberBuilding) }},
	{Name: "Failed", Type: "string", Value: func(o Object) string { return membersIn(o.(*BuildGroup), MemberFailed) }},
	{Name: "Reason", Type: "string", Value: func(o Object) string { return o.(*BuildGroup).Spec.Reason.Type }},
	{Name: "Components", Type: "string", Priority: 1, Value: func(o Object) string { return joinMax(o.(*BuildGroup).Spec.Components, 5) }},
}

// progressBar renders done/total as "[#####-----] 5/10".
func progressBar(g *BuildGroup) string {
	if g.Status.Total == 0 {
		return ""
	}
	const width = 10
	n := g.Status.Done * width / g.Status.Total
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '-'
		if i < n {
			bar[i] = '#'
		}
	}
	return "[" + string(bar) + "] " + strconv.Itoa(g.Status.Done) + "/" + strconv.Itoa(g.Status.Total)
}

func membersIn(g *BuildGroup, state string) string {
	var names []string
	for _, m := range g.Status.Members {
		if m.State == state {
			names = append(names, m.Component)
		}
	}
	return joinMax(names, 3)
}

func joinMax(names []string, n int) string {
	if len(names) <= n {
		return joinComma(names)
	}
	return joinComma(names[:n]) + fmt.Sprintf(" +%d", len(names)-n)
}

func joinComma(names []string) string {
	out := ""
	for i, s := range names {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}

// AnnotationDependants on a Build outside any group records what its new
// output caused: the name of the group rebuilding its dependants, or "-"
// when none needed it. A restart does not decide again for a build that
// has it.
const AnnotationDependants = "kiln.dev/dependants"
