package auth

import "testing"

func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	cases := []struct {
		role       Role
		kind, verb string
		want       bool
	}{
		{Viewer, "Component", VerbGet, true},
		{Viewer, "Component", VerbCreate, false},
		{Viewer, "Secret", VerbList, false},
		{Maintainer, "Component", VerbDelete, true},
		{Maintainer, "Secret", VerbCreate, true},
		{Maintainer, "Secret", VerbGet, true},
		{Maintainer, "RoleBinding", VerbCreate, false},
		{Maintainer, "ReleasePlanAdmission", VerbCreate, false},
		{Admin, "RoleBinding", VerbCreate, true},
		{Admin, "Policy", VerbUpdate, true},
		{Releaser, "ReleasePlanAdmission", VerbPatch, true},
		{Releaser, "Policy", VerbCreate, true},
		{Releaser, "Secret", VerbGet, false},
		{Releaser, "Component", VerbCreate, false},
		{Role("owner"), "Component", VerbGet, false},
	}
	for _, c := range cases {
		if got := c.role.Allows(c.kind, c.verb); got != c.want {
			t.Errorf("%s %s %s = %v, want %v", c.role, c.verb, c.kind, got, c.want)
		}
	}
}

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	name, tok, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	n, secret, ok := ParseToken(tok)
	if !ok || n != name {
		t.Fatalf("ParseToken(%q) = %q, %v", tok, n, ok)
	}
	if !SecretMatches(secret, HashSecret(secret)) || SecretMatches(secret+"x", HashSecret(secret)) {
		t.Fatal("secret hash comparison is wrong")
	}
	for _, bad := range []string{"", "kiln_", "kiln_abc_def", "ghp_123", "kiln_0123456789ab"} {
		if _, _, ok := ParseToken(bad); ok {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
}
