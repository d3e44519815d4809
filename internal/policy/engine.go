package policy

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
)

// Digest identifies the compiled policy (its sources and the shipped rules).
func (e *Engine) Digest() string { return e.prog.digest }

// Name is the policy's display name (spec.name).
func (e *Engine) Name() string { return e.name }

// Rules lists the metadata of every deny and warn rule of every source,
// whether or not include and exclude select it, by code.
func (e *Engine) Rules() []Rule {
	var out []Rule
	seen := map[string]bool{}
	for _, s := range e.prog.sources {
		for _, code := range sortedKeys(s.rules) {
			if !seen[code] {
				seen[code] = true
				out = append(out, s.rules[code])
			}
		}
	}
	slices.SortFunc(out, func(a, b Rule) int { return cmp.Compare(a.Code, b.Code) })
	return out
}

// Evaluate runs every source's rules on one artifact. comp names the
// component in the result; empty means in.Kiln.Component, else the
// snapshot component with the image, else the image reference.
func (e *Engine) Evaluate(ctx context.Context, comp string, in Input) (ComponentResult, error) {
	if comp == "" {
		comp = in.componentName()
	}
	res := ComponentResult{Name: comp, Image: imageRef(in.Image)}
	v, err := in.value()
	if err != nil {
		return res, fmt.Errorf("policy: component %s: %w", comp, err)
	}
	now := e.now()
	acc := newAccumulator(now)
	for _, s := range e.prog.sources {
		rs, err := s.query.Eval(ctx, rego.EvalParsedInput(v), rego.EvalTime(now))
		if err != nil {
			return res, fmt.Errorf("policy: component %s: evaluating source %q: %w", comp, s.name, err)
		}
		if err := acc.addSource(s, rs); err != nil {
			return res, fmt.Errorf("policy: component %s: source %q: %w", comp, s.name, err)
		}
	}
	acc.fill(&res)
	return res, nil
}

func imageRef(img Image) string {
	if img.Ref != "" {
		return img.Ref
	}
	return img.Digest
}

// accumulator gathers the results of all sources for one artifact.
type accumulator struct {
	now        time.Time
	violations []Result
	warnings   []Result
	failed     map[string]bool // codes with a violation or warning
	failedPkgs map[string]bool // packages with a result that has no code
	passed     map[string]Rule // rules in scope that may have succeeded
}

func newAccumulator(now time.Time) *accumulator {
	return &accumulator{now: now, failed: map[string]bool{}, failedPkgs: map[string]bool{}, passed: map[string]Rule{}}
}

// addSource classifies one source's results, then records as successes
// its rules in scope that are effective and reported nothing.
func (a *accumulator) addSource(s *compiledSource, rs rego.ResultSet) error {
	if len(rs) != 1 {
		return fmt.Errorf("the query returned %d results, want 1", len(rs))
	}
	for i, p := range s.pkgs {
		for _, kind := range []string{kindDeny, kindWarn} {
			raw, ok := rs[0].Bindings[binding(kind, i)]
			if !ok {
				continue
			}
			if err := a.addSet(s, p, kind, raw); err != nil {
				return err
			}
		}
	}
	a.addSuccesses(s)
	return nil
}

func (a *accumulator) addSet(s *compiledSource, p rulePackage, kind string, raw any) error {
	items, ok := raw.([]any)
	if !ok {
		return fmt.Errorf("data.%s.%s is a %T, not a set", p.path, kind, raw)
	}
	for _, item := range items {
		r := decodeResult(p, item)
		rule, known := s.rules[r.Code]
		r.withRule(rule, known)
		if !s.scope.contains(r.Code, r.Term, r.Collections) {
			continue
		}
		a.failed[r.Code] = true
		if !strings.Contains(r.Code, ".") {
			a.failedPkgs[p.path] = true
		}
		if kind == kindDeny && a.effective(r.EffectiveOn) {
			a.violations = append(a.violations, r)
		} else {
			a.warnings = append(a.warnings, r)
		}
	}
	return nil
}

// effective reports whether a deny dated effectiveOn applies now. A date
// that does not parse applies (as in Conforma).
func (a *accumulator) effective(effectiveOn string) bool {
	if effectiveOn == "" {
		return true
	}
	t, err := time.Parse(effectiveOnFormat, effectiveOn)
	return err != nil || !t.After(a.now)
}

func (a *accumulator) addSuccesses(s *compiledSource) {
	for code, rule := range s.rules {
		if !s.scope.contains(code, "", rule.Collections) || rule.EffectiveOn.After(a.now) {
			continue
		}
		if _, ok := a.passed[code]; !ok {
			a.passed[code] = rule
		}
	}
}

// fill writes the sorted results. A code that failed in any source is no
// success, nor is any rule of a package that reported a result without a
// code (it cannot be told which rule failed).
func (a *accumulator) fill(res *ComponentResult) {
	res.Violations, res.Warnings = sortResults(a.violations), sortResults(a.warnings)
	res.Successes = []Result{}
	for _, code := range sortedKeys(a.passed) {
		rule := a.passed[code]
		if !a.failed[code] && !a.failedPkgs[rule.Package] {
			res.Successes = append(res.Successes, rule.success())
		}
	}
}

func sortResults(rs []Result) []Result {
	if rs == nil {
		return []Result{}
	}
	slices.SortStableFunc(rs, func(x, y Result) int {
		return cmp.Or(cmp.Compare(x.Code, y.Code), cmp.Compare(x.Term, y.Term), cmp.Compare(x.Msg, y.Msg))
	})
	return slices.CompactFunc(rs, func(x, y Result) bool {
		return x.Code == y.Code && x.Term == y.Term && x.Msg == y.Msg
	})
}
