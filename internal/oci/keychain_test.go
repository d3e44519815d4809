package oci

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
)

// keychain gives registry host its credentials and no other.
type keychain struct{ host, password string }

func (k keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() != k.host {
		return authn.Anonymous, nil
	}
	return &authn.Basic{Username: "someone", Password: k.password}, nil
}

// A Keychain supplies the credentials of the registry a reference names,
// unless the Remote carries its own.
func TestRemoteKeychain(t *testing.T) {
	t.Parallel()
	tr := startRegistry(t, t.TempDir())
	ctx := context.Background()
	ref := tr.ref("team-a/tools:v1")
	_, err := PushImage(ctx, ref, ImageSpec{Layers: []string{t.TempDir()}}, PushOptions{Remote: tr.remote(tokenA)})
	mustNil(t, err)
	for name, c := range map[string]struct {
		rem Remote
		ok  bool
	}{
		"keychain":          {Remote{RootCAs: tr.cas, Keychain: keychain{tr.host, tokenA}}, true},
		"other registry":    {Remote{RootCAs: tr.cas, Keychain: keychain{"elsewhere.example", tokenA}}, false},
		"token wins":        {Remote{RootCAs: tr.cas, Token: tokenB, Keychain: keychain{tr.host, tokenA}}, false},
		"anonymous":         {Remote{RootCAs: tr.cas}, false},
		"keychain, no read": {Remote{RootCAs: tr.cas, Keychain: keychain{tr.host, tokenB}}, false},
	} {
		if _, _, err := Unpack(ctx, ref, t.TempDir(), c.rem); (err == nil) != c.ok {
			t.Errorf("%s: Unpack error %v, want success %v", name, err, c.ok)
		}
	}
}
