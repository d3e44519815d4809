package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Rule is a deny or warn rule's metadata, read from its METADATA comment.
type Rule struct {
	// Code is "<package>.<short_name>".
	Code string `json:"code"`
	// Kind is "deny" or "warn".
	Kind        string   `json:"kind"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Collections []string `json:"collections,omitempty"`
	// EffectiveOn is when a deny rule starts to deny (zero: always).
	EffectiveOn time.Time `json:"effectiveOn,omitzero"`
	// Package is the Rego package, e.g. "policy.release.sbom".
	Package string `json:"package"`
	// Location is the module and line of the rule.
	Location string `json:"location"`
}

const (
	kindDeny = "deny"
	kindWarn = "warn"
	// rulePrefix is the package prefix of release rules.
	rulePrefix = "policy.release."
)

// effectiveOnFormat is Conforma's layout for custom.effective_on.
const effectiveOnFormat = time.RFC3339

// ruleFor reads the metadata of a deny or warn rule r of pkg.
func ruleFor(pkg string, r *ast.Rule, annots []*ast.Annotations) (Rule, error) {
	kind := r.Head.Ref().String()
	loc := location(r.Location)
	if r.Head.Key == nil || r.Head.Value != nil {
		return Rule{}, fmt.Errorf("%s: %s must be a set rule: %s contains result if {…}", loc, kind, kind)
	}
	a := ruleAnnotations(annots)
	if a == nil {
		return Rule{}, fmt.Errorf("%s: %s rule has no METADATA comment with custom.short_name and custom.failure_msg", loc, kind)
	}
	short, _ := a.Custom["short_name"].(string)
	msg, _ := a.Custom["failure_msg"].(string)
	if short == "" || msg == "" {
		return Rule{}, fmt.Errorf("%s: %s rule METADATA needs custom.short_name and custom.failure_msg", loc, kind)
	}
	out := Rule{Code: lastSegment(pkg) + "." + short, Kind: kind, Title: a.Title, Description: strings.TrimSpace(a.Description),
		Package: pkg, Location: loc}
	var err error
	if out.Collections, err = stringList(a.Custom["collections"]); err != nil {
		return Rule{}, fmt.Errorf("%s: custom.collections: %w", loc, err)
	}
	if out.EffectiveOn, err = effectiveOn(a.Custom["effective_on"]); err != nil {
		return Rule{}, fmt.Errorf("%s: custom.effective_on: %w", loc, err)
	}
	return out, nil
}

// ruleAnnotations picks the rule-scoped METADATA block.
func ruleAnnotations(annots []*ast.Annotations) *ast.Annotations {
	for _, a := range annots {
		if a.Scope == "rule" {
			return a
		}
	}
	return nil
}

func stringList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of strings, got %T", v)
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("want a list of strings, got an element of type %T", x)
		}
		out = append(out, s)
	}
	return out, nil
}

// effectiveOn parses an RFC 3339 time. YAML may have decoded it already.
func effectiveOn(v any) (time.Time, error) {
	switch t := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return t, nil
	case string:
		parsed, err := time.Parse(effectiveOnFormat, t)
		if err != nil {
			return time.Time{}, fmt.Errorf("want an RFC 3339 time such as 2026-01-01T00:00:00Z: %w", err)
		}
		return parsed, nil
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 time, got %T", v)
}

func lastSegment(pkg string) string {
	return pkg[strings.LastIndex(pkg, ".")+1:]
}

func location(l *ast.Location) string {
	if l == nil {
		return "(unknown location)"
	}
	return fmt.Sprintf("%s:%d", l.File, l.Row)
}
