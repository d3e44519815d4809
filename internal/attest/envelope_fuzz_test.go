package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzOpenEnvelope: attestations are read from registries anyone may push
// to. Whatever bytes an attestation layer holds, openEnvelope either fails
// or returns a statement whose payload is exactly one this key signed: no
// change to the envelope (payload, payload type, signatures) gets past the
// signature check.
func FuzzOpenEnvelope(f *testing.F) {
	s := newSigner(f)
	ctx := context.Background()
	var signed [][]byte
	for i, pt := range []string{"https://slsa.dev/provenance/v1", "https://spdx.dev/Document"} {
		st, err := NewStatement(Artifact{Name: "r/x", Digest: "sha256:" + strings.Repeat(string(rune('a'+i)), 64)}, pt, map[string]any{"k": i})
		must(f, err)
		env, err := signStatement(ctx, s, st)
		must(f, err)
		body, err := json.Marshal(st)
		must(f, err)
		signed = append(signed, body)
		f.Add(env)
	}
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":""}]}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`))
	pub := s.PublicKey()
	f.Fuzz(func(t *testing.T, raw []byte) {
		st, err := openEnvelope(ctx, raw, pub)
		if err != nil {
			return
		}
		var env struct{ Payload string }
		if json.Unmarshal(raw, &env) != nil {
			t.Fatalf("accepted an envelope that is not JSON: %q", raw)
		}
		payload := decodeAnyBase64(env.Payload)
		for _, b := range signed {
			if bytes.Equal(payload, b) {
				if st.Type != StatementType {
					t.Fatalf("statement type %q accepted", st.Type)
				}
				return
			}
		}
		t.Fatalf("accepted a payload this key never signed: %q", payload)
	})
}

// decodeAnyBase64 decodes s in whichever base64 alphabet it is in (DSSE
// readers accept both): the signature covers the decoded bytes.
func decodeAnyBase64(s string) []byte {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}
