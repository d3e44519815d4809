package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// maxJSONDepth bounds nesting, as encoding/json does.
const maxJSONDepth = 10000

// jsonValue parses JSON straight into an AST value. It gives the same
// value as ast.ValueFromReader, without building map[string]any first:
// statements (an SBOM lists every file) are most of an input, and this
// halves the time spent converting them.
func jsonValue(b []byte) (ast.Value, error) {
	p := &jsonParser{b: b, keys: map[string]*ast.Term{}}
	t, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if p.skipSpace(); p.i != len(p.b) {
		return nil, p.errorf("unexpected data after the value")
	}
	return t.Value, nil
}

type jsonParser struct {
	b []byte
	i int
	// keys holds one term per distinct object key: SBOMs repeat a few
	// keys thousands of times, and terms are immutable.
	keys map[string]*ast.Term
	// pending holds the members of the objects being read, innermost last
	// (NewObject copies them, so the space is reused).
	pending [][2]*ast.Term
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (*ast.Term, error) {
	if depth > maxJSONDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.skipSpace()
	if p.i >= len(p.b) {
		return nil, p.errorf("unexpected end of input")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return ast.StringTerm(s), nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return p.literal()
}

func (p *jsonParser) object(depth int) (*ast.Term, error) {
	p.i++ // {
	start := len(p.pending)
	defer func() { p.pending = p.pending[:start] }()
	for first := true; ; first = false {
		p.skipSpace()
		if p.i < len(p.b) && p.b[p.i] == '}' && first {
			p.i++
			return ast.NewTerm(ast.NewObject()), nil
		}
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		if p.skipSpace(); p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.errorf("want ':'")
		}
		p.i++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		p.pending = append(p.pending, [2]*ast.Term{k, v})
		if done, err := p.next('}'); done || err != nil {
			return ast.NewTerm(newObject(p.pending[start:])), err
		}
	}
}

// newObject makes an object of kvs; a repeated key keeps its last value,
// as with encoding/json.
func newObject(kvs [][2]*ast.Term) ast.Object {
	obj := ast.NewObject(kvs...)
	if obj.Len() == len(kvs) && !hasDuplicateKey(kvs) {
		return obj
	}
	obj = ast.NewObject()
	for _, kv := range kvs {
		obj.Insert(kv[0], kv[1])
	}
	return obj
}

// hasDuplicateKey compares keys pairwise for small objects, with a set
// for large ones. Keys from one parse are shared terms, so the pointers
// are equal for equal keys.
func hasDuplicateKey(kvs [][2]*ast.Term) bool {
	if len(kvs) > 16 {
		seen := make(map[*ast.Term]bool, len(kvs))
		for _, kv := range kvs {
			if seen[kv[0]] {
				return true
			}
			seen[kv[0]] = true
		}
		return false
	}
	for i := range kvs {
		for j := i + 1; j < len(kvs); j++ {
			if kvs[i][0] == kvs[j][0] {
				return true
			}
		}
	}
	return false
}

// key reads an object key, returning the parse's one term for it.
func (p *jsonParser) key() (*ast.Term, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, p.errorf("want an object key")
	}
	seg, plain, err := p.strBytes()
	if err != nil {
		return nil, err
	}
	if plain {
		if t, ok := p.keys[string(seg)]; ok { // no allocation
			return t, nil
		}
	}
	s := string(seg)
	if !plain {
		if s, err = unquote(seg, p.i); err != nil {
			return nil, err
		}
	}
	t := ast.StringTerm(s)
	if plain {
		p.keys[s] = t
	}
	return t, nil
}

func (p *jsonParser) array(depth int) (*ast.Term, error) {
	p.i++ // [
	var elems []*ast.Term
	for first := true; ; first = false {
		p.skipSpace()
		if p.i < len(p.b) && p.b[p.i] == ']' && first {
			p.i++
			return ast.NewTerm(ast.NewArray(elems...)), nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		elems = append(elems, v)
		if done, err := p.next(']'); done || err != nil {
			return ast.NewTerm(ast.NewArray(elems...)), err
		}
	}
}

// next consumes ',' (not done) or the closing byte (done).
func (p *jsonParser) next(closing byte) (done bool, err error) {
	p.skipSpace()
	if p.i >= len(p.b) {
		return false, p.errorf("unexpected end of input")
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		return false, nil
	case closing:
		p.i++
		return true, nil
	}
	return false, p.errorf("want ',' or %q", closing)
}

// str reads a string.
func (p *jsonParser) str() (string, error) {
	seg, plain, err := p.strBytes()
	if err != nil || plain {
		return string(seg), err
	}
	return unquote(seg, p.i)
}

// strBytes reads a string and returns its bytes between the quotes.
// plain strings (valid UTF-8, no escapes) are those bytes as is; others
// are returned with their quotes, for unquote.
func (p *jsonParser) strBytes() (seg []byte, plain bool, err error) {
	start := p.i
	p.i++
	plain = true
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			if seg = p.b[start+1 : p.i-1]; plain && utf8.Valid(seg) {
				return seg, true, nil
			}
			return p.b[start:p.i], false, nil
		case c == '\\':
			plain = false
			p.i++
		case c < 0x20:
			return nil, false, p.errorf("control character in string")
		}
	}
	return nil, false, p.errorf("unterminated string")
}

// unquote decodes a quoted JSON string with escapes or invalid UTF-8, as
// encoding/json does.
func unquote(quoted []byte, end int) (string, error) {
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", fmt.Errorf("JSON offset %d: %w", end-len(quoted), err)
	}
	return s, nil
}

func (p *jsonParser) number() (*ast.Term, error) {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		p.i++
	}
	s := string(p.b[start:p.i])
	if !json.Valid(p.b[start:p.i]) {
		return nil, fmt.Errorf("JSON offset %d: invalid number %q", start, s)
	}
	if t := ast.InternedIntNumberTermFromString(s); t != nil {
		return t, nil
	}
	n, err := ast.NumberChecked(s)
	if err != nil {
		return nil, fmt.Errorf("JSON offset %d: %w", start, err)
	}
	return ast.NewTerm(n), nil
}

var errLiteral = errors.New("want a JSON value")

func (p *jsonParser) literal() (*ast.Term, error) {
	for _, lit := range []struct {
		text string
		term *ast.Term
	}{{"true", ast.InternedTerm(true)}, {"false", ast.InternedTerm(false)}, {"null", ast.NullTerm()}} {
		if len(p.b)-p.i >= len(lit.text) && string(p.b[p.i:p.i+len(lit.text)]) == lit.text {
			p.i += len(lit.text)
			return lit.term, nil
		}
	}
	return nil, fmt.Errorf("JSON offset %d: %w", p.i, errLiteral)
}
