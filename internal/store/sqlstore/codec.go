package sqlstore

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kilnbuild/kiln/internal/store"
)

// Index key prefixes of object_index rows.
const (
	labelPrefix = "l:"
	fieldPrefix = "f:"
	ownerKey    = "o:"
)

// meta is the JSON stored in the meta columns: the indexed metadata of an
// object, kept so reads can rebuild store.Object without touching the index.
type meta struct {
	Labels map[string]string `json:"l,omitempty"`
	Fields map[string]string `json:"f,omitempty"`
	Owners []string          `json:"o,omitempty"`
}

func encodeMeta(o *store.Object) (string, error) {
	b, err := json.Marshal(meta{Labels: o.Labels, Fields: o.Fields, Owners: o.OwnerUIDs})
	if err != nil {
		return "", fmt.Errorf("encoding metadata of %s: %w", o.Key(), err)
	}
	return string(b), nil
}

func decodeMeta(s string, o *store.Object) error {
	var m meta
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return fmt.Errorf("decoding metadata of %s: %w", o.Key(), err)
	}
	o.Labels, o.Fields, o.OwnerUIDs = m.Labels, m.Fields, m.Owners
	return nil
}

// entry is one object_index row (key, value) of an object.
type entry [2]string

// indexEntries lists the object_index rows of an object, without duplicates.
func indexEntries(labels, fields map[string]string, owners []string) []entry {
	out := make([]entry, 0, len(labels)+len(fields)+len(owners))
	for k, v := range labels {
		out = append(out, entry{labelPrefix + k, v})
	}
	for k, v := range fields {
		out = append(out, entry{fieldPrefix + k, v})
	}
	seen := make(map[string]bool, len(owners))
	for _, uid := range owners {
		if !seen[uid] {
			seen[uid] = true
			out = append(out, entry{ownerKey, uid})
		}
	}
	return out
}

// diffEntries returns the entries only in old (removed) and only in cur (added).
func diffEntries(old, cur []entry) (removed, added []entry) {
	inOld := make(map[entry]bool, len(old))
	for _, e := range old {
		inOld[e] = true
	}
	inCur := make(map[entry]bool, len(cur))
	for _, e := range cur {
		inCur[e] = true
		if !inOld[e] {
			added = append(added, e)
		}
	}
	for _, e := range old {
		if !inCur[e] {
			removed = append(removed, e)
		}
	}
	return removed, added
}

func entriesJSON(es []entry) string {
	if len(es) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(es) // [][2]string always marshals
	return string(b)
}

// continueToken is the decoded form of ListResult.Continue: the key of the
// last item of the previous page (keyset pagination).
type continueToken struct {
	V         int    `json:"v"`
	Namespace string `json:"ns"`
	Name      string `json:"n"`
}

const tokenVersion = 1

func encodeContinue(namespace, name string) string {
	b, _ := json.Marshal(continueToken{V: tokenVersion, Namespace: namespace, Name: name})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (*continueToken, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed continue token", store.ErrInvalid)
	}
	var t continueToken
	if err := json.Unmarshal(b, &t); err != nil || t.V != tokenVersion || t.Name == "" {
		return nil, fmt.Errorf("%w: malformed continue token", store.ErrInvalid)
	}
	return &t, nil
}

// newUID returns a random RFC 4122 version 4 UUID.
func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// cloneObject deep-copies o so callers and watchers never share mutable
// state with the store or with each other.
func cloneObject(o *store.Object) *store.Object {
	c := *o
	c.Labels = maps.Clone(o.Labels)
	c.Fields = maps.Clone(o.Fields)
	c.OwnerUIDs = slices.Clone(o.OwnerUIDs)
	c.Data = slices.Clone(o.Data)
	return &c
}

// validateObject rejects objects the store cannot key or persist.
func validateObject(o *store.Object) error {
	if o == nil {
		return fmt.Errorf("%w: nil object", store.ErrInvalid)
	}
	if o.Kind == "" || o.Name == "" {
		return fmt.Errorf("%w: %s: kind and name are required", store.ErrInvalid, o.Key())
	}
	if hasNUL(o.Kind, o.Namespace, o.Name, o.UID) || mapHasNUL(o.Labels) || mapHasNUL(o.Fields) ||
		hasNUL(o.OwnerUIDs...) {
		return fmt.Errorf("%w: %s: NUL character or invalid UTF-8 in metadata", store.ErrInvalid, o.Key())
	}
	return nil
}

func validateKey(k store.Key) error {
	if k.Kind == "" || k.Name == "" {
		return fmt.Errorf("%w: %s: kind and name are required", store.ErrInvalid, k)
	}
	if hasNUL(k.Kind, k.Namespace, k.Name) {
		return fmt.Errorf("%w: %s: NUL character or invalid UTF-8 in key", store.ErrInvalid, k)
	}
	return nil
}

// hasNUL reports strings that no backend can store as text: NUL bytes or
// invalid UTF-8.
func hasNUL(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			return true
		}
	}
	return false
}

func mapHasNUL(m map[string]string) bool {
	for k, v := range m {
		if hasNUL(k, v) {
			return true
		}
	}
	return false
}
