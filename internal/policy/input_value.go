package policy

import (
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// value converts the input to the AST value rules read, once per
// evaluation. Empty lists are [] rather than null, and input.attestations
// is input.image.attestations (the same terms, not a copy). Statements are
// parsed straight from their JSON; the rest is small and goes through
// encoding/json.
func (in Input) value() (ast.Value, error) {
	in = in.normalized()
	atts, err := attestationsTerm(in.Image.Attestations)
	if err != nil {
		return nil, err
	}
	img := in.Image
	img.Attestations = nil
	image, err := objectWith(img, "attestations", atts)
	if err != nil {
		return nil, fmt.Errorf("encoding input.image: %w", err)
	}
	in.Image = Image{}
	doc, err := objectWith(in, "image", ast.NewTerm(image))
	if err != nil {
		return nil, fmt.Errorf("encoding policy input: %w", err)
	}
	return ast.NewObject(append(pairs(doc), [2]*ast.Term{ast.StringTerm("attestations"), atts})...), nil
}

func attestationsTerm(atts []Attestation) (*ast.Term, error) {
	terms := make([]*ast.Term, 0, len(atts))
	for i, a := range atts {
		st, err := jsonValue(a.Statement)
		if err != nil {
			return nil, fmt.Errorf("input.image.attestations[%d].statement: %w", i, err)
		}
		a.Statement = nil
		o, err := objectWith(a, "statement", ast.NewTerm(st))
		if err != nil {
			return nil, fmt.Errorf("input.image.attestations[%d]: %w", i, err)
		}
		terms = append(terms, ast.NewTerm(o))
	}
	return ast.NewTerm(ast.NewArray(terms...)), nil
}

// objectWith encodes v (a struct) and sets key to value in the result.
func objectWith(v any, key string, value *ast.Term) (ast.Object, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	x, err := jsonValue(b)
	if err != nil {
		return nil, err
	}
	obj, ok := x.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("%T encodes as %s, not an object", v, ast.ValueName(x))
	}
	kvs := make([][2]*ast.Term, 0, obj.Len()+1)
	for _, kv := range pairs(obj) {
		if kv[0].Value.Compare(ast.String(key)) != 0 {
			kvs = append(kvs, kv)
		}
	}
	return ast.NewObject(append(kvs, [2]*ast.Term{ast.StringTerm(key), value})...), nil
}

func pairs(obj ast.Object) [][2]*ast.Term {
	out := make([][2]*ast.Term, 0, obj.Len())
	obj.Foreach(func(k, v *ast.Term) { out = append(out, [2]*ast.Term{k, v}) })
	return out
}

// normalized returns a copy whose nil lists are empty and whose
// attestations without a statement hold JSON null.
func (in Input) normalized() Input {
	in.Image.Signatures = nonNil(in.Image.Signatures)
	atts := make([]Attestation, len(in.Image.Attestations))
	for i, a := range in.Image.Attestations {
		if len(a.Statement) == 0 {
			a.Statement = json.RawMessage("null")
		}
		a.Signatures = nonNil(a.Signatures)
		atts[i] = a
	}
	in.Image.Attestations = atts
	in.Snapshot.Components = nonNil(in.Snapshot.Components)
	in.Tests = nonNil(in.Tests)
	in.Kiln.VerifyErrors = nonNil(in.Kiln.VerifyErrors)
	return in
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
