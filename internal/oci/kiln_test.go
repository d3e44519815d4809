package oci

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/store"
	"github.com/kilnbuild/kiln/internal/store/sqlstore"
)

// kilnFixture stores users, tokens and role bindings in a real SQLite store.
type kilnFixture struct {
	t  *testing.T
	st store.Store
}

func (f *kilnFixture) create(kind, ns, name string, spec map[string]any) {
	data, err := json.Marshal(map[string]any{"spec": spec})
	mustNil(f.t, err)
	_, err = f.st.Create(context.Background(), &store.Object{Kind: kind, Namespace: ns, Name: name, Data: data})
	mustNil(f.t, err)
}

// user creates a user with a token and returns the token.
func (f *kilnFixture) user(name string, clusterAdmin bool) string {
	f.create("User", "", name, map[string]any{"clusterAdmin": clusterAdmin})
	tokName, token, err := auth.NewToken()
	mustNil(f.t, err)
	_, secret, _ := auth.ParseToken(token)
	f.create("Token", "", tokName, map[string]any{"subject": name, "hash": auth.HashSecret(secret)})
	return token
}

func (f *kilnFixture) bind(ns, user string, role auth.Role) {
	f.create("RoleBinding", ns, user+"-"+string(role), map[string]any{
		"role": role, "subjects": []map[string]string{{"kind": "User", "name": user}}})
}

func TestKilnAuthorizerMapsRoles(t *testing.T) {
	t.Parallel()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "kiln.db"), store.Options{})
	mustNil(t, err)
	defer st.Close()
	f := &kilnFixture{t: t, st: st}
	admin, maint, viewer, releaser := f.user("root", true), f.user("mia", false), f.user("vic", false), f.user("rel", false)
	f.bind("team-a", "mia", auth.Maintainer)
	f.bind("team-a", "vic", auth.Viewer)
	f.bind("team-a", "rel", auth.Releaser)
	z := KilnAuthorizer(auth.NewAuthenticator(st), auth.NewAuthorizer(st))

	cases := []struct {
		token, ns string
		action    Action
		want      error
	}{
		{"", "", ActionLogin, ErrUnauthenticated},
		{"kiln_000000000000_nope", "", ActionLogin, ErrUnauthenticated},
		{viewer, "", ActionLogin, nil},
		{viewer, "team-a", ActionPull, nil},
		{viewer, "team-a", ActionPush, ErrForbidden},
		{viewer, "team-b", ActionPull, ErrForbidden},
		{maint, "team-a", ActionPush, nil},
		{maint, "team-a", ActionDelete, nil},
		{maint, "team-b", ActionPush, ErrForbidden},
		{maint, "", ActionCatalog, ErrForbidden},
		{releaser, "team-a", ActionPull, nil},
		{releaser, "team-a", ActionPush, ErrForbidden},
		{admin, "team-b", ActionPush, nil},
		{admin, "", ActionCatalog, nil},
	}
	for _, c := range cases {
		err := z.Authorize(context.Background(), c.token, c.ns, c.action)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("Authorize(%.12s…, %q, %s) = %v, want %v", c.token, c.ns, c.action, err, c.want)
		}
	}
}
