package attest

import (
	"context"
	"crypto"
	"encoding/json"
	"sort"

	"github.com/kilnbuild/kiln/internal/oci"
)

// VerifyStatements is Verify that also returns the in-toto statements of
// the attestation layers that verified (JSON), for a policy engine to
// read. Only verified statements are returned.
func VerifyStatements(ctx context.Context, ref string, pub crypto.PublicKey, rem oci.Remote, opts VerifyOptions) (*Report, []json.RawMessage, error) {
	v := &verifier{ctx: ctx, pub: pub, opts: opts, r: newReader(ctx, rem), rep: &Report{Reference: ref}}
	defer v.r.close()
	err := v.run(ref, rem)
	if err != nil {
		v.rep.Error = err.Error()
	} else {
		v.rep.Verified = true
	}
	return v.rep, v.statements(), err
}

func (v *verifier) statements() []json.RawMessage {
	types := make([]string, 0, len(v.valid))
	for t := range v.valid {
		types = append(types, t)
	}
	sort.Strings(types)
	var out []json.RawMessage
	for _, t := range types {
		for _, st := range v.valid[t] {
			if b, err := json.Marshal(st); err == nil {
				out = append(out, b)
			}
		}
	}
	return out
}

// PEMKey is a private key held in memory as PEM, e.g. read from a Secret.
type PEMKey []byte

// SigningKey parses the key.
func (p PEMKey) SigningKey(context.Context) (crypto.Signer, error) {
	return parsePrivateKey(p)
}
