package auth

// Role is a set of permissions in one namespace.
type Role string

const (
	Viewer     Role = "viewer"
	Maintainer Role = "maintainer"
	Admin      Role = "admin"
	// Releaser works in managed namespaces: it owns the release gate
	// (admissions and policies) without access to the namespace's secrets.
	Releaser Role = "releaser"
)

// Verbs, as in Kubernetes.
const (
	VerbGet    = "get"
	VerbList   = "list"
	VerbWatch  = "watch"
	VerbCreate = "create"
	VerbUpdate = "update"
	VerbPatch  = "patch"
	VerbDelete = "delete"
)

var (
	readVerbs  = []string{VerbGet, VerbList, VerbWatch}
	writeVerbs = []string{VerbCreate, VerbUpdate, VerbPatch, VerbDelete}
)

// Kind groups, by who may change them.
var (
	// contentKinds are a tenant's everyday objects.
	contentKinds = []string{"Application", "Component", "IntegrationTestScenario", "ReleasePlan", "Snapshot", "Release",
		"Build", "BuildGroup", "IntegrationTestRun", "ReleaseRun"}
	// gateKinds decide what may be released.
	gateKinds = []string{"ReleasePlanAdmission", "Policy"}
	// accessKinds decide who may do what.
	accessKinds = []string{"RoleBinding", "ServiceAccount"}
)

// rules maps role → kind → allowed verbs. Every namespaced kind except
// Secret is readable by every role; Secrets (whose values the API never
// returns anyway) are visible to maintainers and admins only.
var rules = buildRules()

func buildRules() map[Role]map[string][]string {
	r := map[Role]map[string][]string{Viewer: {}, Maintainer: {}, Admin: {}, Releaser: {}}
	grant := func(role Role, kinds []string, verbs []string) {
		for _, k := range kinds {
			r[role][k] = append(r[role][k], verbs...)
		}
	}
	grant(Maintainer, contentKinds, writeVerbs)
	grant(Maintainer, []string{"Secret"}, append(readVerbs, writeVerbs...))
	grant(Admin, contentKinds, writeVerbs)
	grant(Admin, []string{"Secret"}, append(readVerbs, writeVerbs...))
	grant(Admin, gateKinds, writeVerbs)
	grant(Admin, accessKinds, writeVerbs)
	grant(Admin, []string{"Namespace"}, []string{VerbUpdate, VerbPatch, VerbDelete})
	grant(Releaser, gateKinds, writeVerbs)
	return r
}

// Allows reports whether role permits verb on kind in its namespace.
func (r Role) Allows(kind, verb string) bool {
	if !r.Valid() {
		return false
	}
	if kind != "Secret" {
		for _, v := range readVerbs {
			if v == verb {
				return true
			}
		}
	}
	for _, v := range rules[r][kind] {
		if v == verb {
			return true
		}
	}
	return false
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	_, ok := rules[r]
	return ok
}

// rank orders roles for "highest role wins" when a subject has several
// bindings in one namespace.
func (r Role) rank() int {
	switch r {
	case Admin:
		return 4
	case Maintainer, Releaser:
		return 3
	case Viewer:
		return 1
	}
	return 0
}
