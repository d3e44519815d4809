package policy

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

var jsonSamples = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-1.5e10`, `12345678901234567890`, `"x"`,
	` { "a" : [ 1 , 2 , { "b" : null } ] , "c" : "d" } `,
	`{"esc":"a\"b\\c\n\u00e9\ud83d\ude00","dup":1,"dup":2}`,
	`["é", "日本", "\u0000"]`,
	"[\"bad utf-8 \xff\"]",
	`{"nested":{"deeper":{"deepest":[[[]]]}}}`,
}

func TestJSONValueMatchesOPA(t *testing.T) {
	in, err := os.ReadFile("testdata/input.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(jsonSamples, string(in)) {
		got, err := jsonValue([]byte(s))
		if err != nil {
			t.Errorf("%.40q: %v", s, err)
			continue
		}
		want, err := ast.ValueFromReader(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		if got.Compare(want) != 0 {
			t.Errorf("%.60q: got %v, want %v", s, got, want)
		}
	}
}

func TestJSONValueRejects(t *testing.T) {
	for _, s := range []string{``, `{`, `[1,]`, `{"a"}`, `{"a":1,}`, `[1 2]`, `01`, `1.`, `-`, `tru`, `"abc`, "\"a\tb\"", `{} x`, `{1:2}`, `"\x"`} {
		if _, err := jsonValue([]byte(s)); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	deep := strings.Repeat("[", maxJSONDepth+2) + strings.Repeat("]", maxJSONDepth+2)
	if _, err := jsonValue([]byte(deep)); err == nil {
		t.Error("deep nesting accepted")
	}
}

func FuzzJSONValue(f *testing.F) {
	for _, s := range jsonSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := jsonValue(b)
		want, werr := ast.ValueFromReader(bytes.NewReader(b))
		if !json.Valid(b) {
			if err == nil {
				t.Fatalf("invalid JSON %q accepted", b)
			}
			return
		}
		if err != nil && werr != nil {
			return // valid JSON neither takes, e.g. a number too big for OPA (1E70000)
		}
		if err != nil || werr != nil {
			t.Fatalf("%q: %v / %v", b, err, werr)
		}
		if got.Compare(want) != 0 {
			t.Fatalf("%q: got %v, want %v", b, got, want)
		}
	})
}

// TestInputValueMatchesJSON checks the hand-assembled input against the
// plain encoding: every field of Input reaches the rules as its JSON.
func TestInputValueMatchesJSON(t *testing.T) {
	in := loadInput(t)
	in.Image.Attestations = append(in.Image.Attestations, Attestation{}) // no statement: null
	in.Kiln.VerifyErrors = []string{"e"}
	in.Tests[0].Optional = true
	for _, x := range []Input{in, {}} {
		got, err := x.value()
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(x.normalized())
		if err != nil {
			t.Fatal(err)
		}
		want, err := ast.ValueFromReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		obj := want.(ast.Object)
		obj.Insert(ast.StringTerm("attestations"), obj.Get(ast.StringTerm("image")).Get(ast.StringTerm("attestations")))
		if got.Compare(obj) != 0 {
			t.Errorf("input value differs from its JSON:\n got %.300v\nwant %.300v", got, obj)
		}
	}
}
