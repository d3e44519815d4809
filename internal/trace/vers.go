package trace

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/mod/semver"
)

// VersionRange is a version range in the vers notation
// (`<0.23.0`, `>=1.2.0|<2.0.0`, `1.0.0|>=2.0.0`, `!=1.3.0|>=1.0.0`, `*`):
// constraints separated by `|`, each an optional comparator (=, !=, <, <=,
// >, >=) and a version. Containment follows the vers specification: a
// version equal to a `=` constraint is in, one equal to a `!=` constraint is
// out, and the others are in when they fall in one of the intervals the
// remaining constraints, sorted by version, delimit.
//
// No Go implementation of vers is served by the module proxy here, so this
// is written against the specification; versions compare with
// golang.org/x/mod/semver for Go modules and semver ecosystems, and with a
// segment-wise comparison (ASCII digit runs numerically, letter runs
// lexically, `~` first, anything else a separator) for the others.
type VersionRange struct {
	scheme      string
	any         bool
	constraints []constraint
}

type constraint struct {
	op      string
	version string
}

var comparators = []string{"!=", "<=", ">=", "<", ">", "="}

// ParseVersionRange parses constraints for a versioning scheme (a purl type:
// golang, npm, generic…).
func ParseVersionRange(scheme, s string) (*VersionRange, error) {
	r := &VersionRange{scheme: strings.ToLower(scheme)}
	s = strings.TrimSpace(s)
	if s == "*" {
		r.any = true
		return r, nil
	}
	if s == "" {
		return nil, errors.New("empty version range: give constraints such as <1.2.0 or >=1.0.0|<2.0.0")
	}
	if strings.Contains(s, ",") {
		return nil, fmt.Errorf("version range %q: separate constraints with | (vers notation), e.g. >=1.0.0|<2.0.0", s)
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, "|") {
		c, err := parseConstraint(r.scheme, strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("version range %q: %w", s, err)
		}
		if seen[r.canonical(c.version)] {
			return nil, fmt.Errorf("version range %q: version %s appears twice", s, c.version)
		}
		seen[r.canonical(c.version)] = true
		r.constraints = append(r.constraints, c)
	}
	slices.SortStableFunc(r.constraints, func(a, b constraint) int { return r.compare(a.version, b.version) })
	return r, r.validate(s)
}

func parseConstraint(scheme, s string) (constraint, error) {
	if s == "" {
		return constraint{}, errors.New("empty constraint between two |")
	}
	c := constraint{op: "="}
	for _, op := range comparators {
		if v, ok := strings.CutPrefix(s, op); ok {
			c.op, s = op, strings.TrimSpace(v)
			break
		}
	}
	if s == "" || strings.ContainsAny(s, "<>=!*| ") {
		return c, fmt.Errorf("constraint %q: want a comparator (=, !=, <, <=, >, >=) followed by a version", c.op+s)
	}
	if scheme == "golang" && !semver.IsValid(vPrefixed(s)) {
		return c, fmt.Errorf("version %q is not a Go module version (semantic version, e.g. v0.23.0)", s)
	}
	c.version = s
	return c, nil
}

// validate checks that, without = and != constraints, comparators
// alternate between lower bounds (>, >=) and upper bounds (<, <=), as the
// vers specification requires.
func (r *VersionRange) validate(s string) error {
	var prev string
	for _, c := range r.constraints {
		if c.op == "=" || c.op == "!=" {
			continue
		}
		dir := c.op[:1]
		if dir == prev {
			return fmt.Errorf("version range %q: two %s bounds in a row; a range alternates lower (>, >=) and upper (<, <=) bounds", s, dir)
		}
		prev = dir
	}
	return nil
}

// Contains reports whether version v is in the range.
func (r *VersionRange) Contains(v string) bool {
	if r.any {
		return true
	}
	if v == "" {
		return false
	}
	var bounds []constraint
	equals := 0
	for _, c := range r.constraints {
		switch c.op {
		case "=":
			equals++
			if r.compare(v, c.version) == 0 {
				return true
			}
		case "!=":
			if r.compare(v, c.version) == 0 {
				return false
			}
		default:
			bounds = append(bounds, c)
		}
	}
	if len(bounds) == 0 {
		return equals == 0 // only != constraints: everything else is in
	}
	return r.inBounds(v, bounds)
}

func (r *VersionRange) inBounds(v string, bounds []constraint) bool {
	if first := bounds[0]; first.op[0] == '<' && r.satisfies(v, first) {
		return true
	}
	if last := bounds[len(bounds)-1]; last.op[0] == '>' && r.satisfies(v, last) {
		return true
	}
	for i := 0; i+1 < len(bounds); i++ {
		lo, hi := bounds[i], bounds[i+1]
		if lo.op[0] == '>' && hi.op[0] == '<' && r.satisfies(v, lo) && r.satisfies(v, hi) {
			return true
		}
	}
	return false
}

func (r *VersionRange) satisfies(v string, c constraint) bool {
	d := r.compare(v, c.version)
	switch c.op {
	case "<":
		return d < 0
	case "<=":
		return d <= 0
	case ">":
		return d > 0
	case ">=":
		return d >= 0
	}
	return d == 0
}

// String renders the range in vers notation.
func (r *VersionRange) String() string {
	if r.any {
		return "vers:" + r.scheme + "/*"
	}
	parts := make([]string, len(r.constraints))
	for i, c := range r.constraints {
		op := c.op
		if op == "=" {
			op = ""
		}
		parts[i] = op + c.version
	}
	return "vers:" + r.scheme + "/" + strings.Join(parts, "|")
}

func (r *VersionRange) canonical(v string) string {
	if semverScheme(r.scheme) && semver.IsValid(vPrefixed(v)) {
		return semver.Canonical(vPrefixed(v))
	}
	return v
}

// compare orders two versions of the range's scheme.
func (r *VersionRange) compare(a, b string) int {
	return CompareVersions(r.scheme, a, b)
}

// CompareVersions orders two versions of a versioning scheme (a purl type).
// Go modules and semver ecosystems compare as semantic versions (a leading
// v is optional); when either side is not one, and for other schemes, the
// versions compare segment by segment.
func CompareVersions(scheme, a, b string) int {
	if semverScheme(scheme) {
		va, vb := vPrefixed(a), vPrefixed(b)
		if semver.IsValid(va) && semver.IsValid(vb) {
			return semver.Compare(va, vb)
		}
	}
	return compareSegments(a, b)
}

// semverScheme reports whether versions of the scheme are semantic versions.
func semverScheme(scheme string) bool {
	switch scheme {
	case "golang", "npm", "cargo", "semver", "hex", "pub", "swift", "nuget", "composer", "conan":
		return true
	}
	return false
}

func vPrefixed(v string) string {
	if strings.HasPrefix(v, "v") {
		return v
	}
	return "v" + v
}

// compareSegments compares versions made of digit and letter runs: digit
// runs numerically, letter runs lexically, a digit run after a letter run,
// `~` before anything (as RPM and Debian do), other separators ignored.
func compareSegments(a, b string) int {
	for {
		a, b = trimSeparators(a), trimSeparators(b)
		if ta, tb := strings.HasPrefix(a, "~"), strings.HasPrefix(b, "~"); ta || tb {
			if ta && tb {
				a, b = a[1:], b[1:]
				continue
			}
			if ta {
				return -1
			}
			return 1
		}
		if a == "" || b == "" {
			return cmp.Compare(len(a), len(b))
		}
		sa, ra := segment(a)
		sb, rb := segment(b)
		if d := compareSegment(sa, sb); d != 0 {
			return d
		}
		a, b = ra, rb
	}
}

func trimSeparators(s string) string {
	return strings.TrimLeftFunc(s, func(r rune) bool { return r != '~' && !isDigit(r) && !isLetter(r) })
}

func isDigit(r rune) bool  { return '0' <= r && r <= '9' }
func isLetter(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' }

// segment splits off the leading run of ASCII digits or of ASCII letters.
func segment(s string) (string, string) {
	digit := isDigit(rune(s[0]))
	i := strings.IndexFunc(s, func(r rune) bool { return isDigit(r) != digit || !(isDigit(r) || isLetter(r)) })
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

func compareSegment(a, b string) int {
	da, db := isDigit(rune(a[0])), isDigit(rune(b[0]))
	switch {
	case da && db:
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
	case da:
		return 1
	case db:
		return -1
	}
	return strings.Compare(a, b)
}
