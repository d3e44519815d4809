package debian

import (
	"fmt"

	"pault.ag/go/debian/version"
)

// CompareVersions compares two Debian versions by dpkg's rules (epoch,
// upstream version, revision; '~' sorts before everything): negative when
// a is older than b, zero when equal, positive when newer.
func CompareVersions(a, b string) (int, error) {
	va, err := ParseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := ParseVersion(b)
	if err != nil {
		return 0, err
	}
	return version.Compare(va, vb), nil
}

// ParseVersion parses and checks a Debian version ("1:2.10-3+b1").
func ParseVersion(s string) (version.Version, error) {
	v, err := version.Parse(s)
	if err != nil {
		return version.Version{}, fmt.Errorf("invalid Debian version %q: %w", s, err)
	}
	return v, nil
}

// Satisfies says whether version v meets the constraint of d (always true
// when d has no version operator).
func (d Dep) Satisfies(v string) (bool, error) {
	if d.Op == "" {
		return true, nil
	}
	c, err := CompareVersions(v, d.Version)
	if err != nil {
		return false, err
	}
	switch d.Op {
	case "<<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case "=":
		return c == 0, nil
	case ">=":
		return c >= 0, nil
	case ">>":
		return c > 0, nil
	}
	return false, fmt.Errorf("unknown version operator %q in %s", d.Op, d)
}
