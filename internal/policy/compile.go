package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// Engine evaluates artifacts against one compiled policy. It is safe for
// concurrent use.
type Engine struct {
	prog *program
	name string
	now  func() time.Time
}

// program is a compiled policy; programs are cached by digest and shared
// between engines.
type program struct {
	digest  string
	sources []*compiledSource
}

// compiledSource is one policy source, ready to evaluate.
type compiledSource struct {
	name  string
	query rego.PreparedEvalQuery
	pkgs  []rulePackage   // packages with deny or warn rules, in query order
	rules map[string]Rule // by code
	scope scope
}

// Compile prepares spec for evaluation. now gives the evaluation time
// (effective_on dates, time.now_ns); nil means time.Now. Compiled sources
// are cached by their digest, so compiling the same policy again is cheap.
func Compile(ctx context.Context, spec v1alpha1.PolicySpec, now func() time.Time) (*Engine, error) {
	if now == nil {
		now = time.Now
	}
	if len(spec.Sources) == 0 {
		return nil, errors.New("policy: the policy has no sources")
	}
	b, err := builtin()
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	digest, err := sourcesDigest(spec.Sources, b)
	if err != nil {
		return nil, err
	}
	prog, err := programs.get(digest, func() (*program, error) { return compileProgram(ctx, digest, spec.Sources, b) })
	if err != nil {
		return nil, err
	}
	return &Engine{prog: prog, name: spec.Name, now: now}, nil
}

// sourcesDigest identifies the sources and the shipped rules they may use.
func sourcesDigest(sources []v1alpha1.PolicySource, b *builtinRules) (string, error) {
	j, err := json.Marshal(sources)
	if err != nil {
		return "", fmt.Errorf("policy: encoding sources: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s", b.digest, j)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func compileProgram(ctx context.Context, digest string, sources []v1alpha1.PolicySource, b *builtinRules) (*program, error) {
	p := &program{digest: digest}
	for i, src := range sources {
		name := src.Name
		if name == "" {
			name = fmt.Sprintf("sources[%d]", i)
		}
		cs, err := compileSource(ctx, name, src, b)
		if err != nil {
			return nil, fmt.Errorf("policy source %q: %w", name, err)
		}
		p.sources = append(p.sources, cs)
	}
	return p, nil
}

func compileSource(ctx context.Context, name string, src v1alpha1.PolicySource, b *builtinRules) (*compiledSource, error) {
	mods, err := sourceModules(src, b)
	if err != nil {
		return nil, err
	}
	parsed, err := parseModules(mods)
	if err != nil {
		return nil, err
	}
	caps := offlineCapabilities()
	c := ast.NewCompiler().WithCapabilities(caps)
	if c.Compile(parsed); c.Failed() {
		return nil, fmt.Errorf("compiling rego: %w", c.Errors)
	}
	rules, pkgs, err := indexRules(c)
	if err != nil {
		return nil, err
	}
	cs := &compiledSource{name: name, rules: rules, pkgs: pkgs, scope: newScope(src.Config)}
	store := inmem.NewFromObjectWithOpts(map[string]any{"rule_data": mergeRuleData(b.ruleData, src.RuleData)},
		inmem.OptReturnASTValuesOnRead(true))
	cs.query, err = rego.New(rego.Query(resultsQuery(pkgs)), rego.Compiler(c), rego.Store(store),
		rego.Capabilities(caps)).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("preparing the query: %w", err)
	}
	return cs, nil
}

// rulePackage is a package with release rules.
type rulePackage struct {
	path       string // e.g. "policy.release.sbom"
	deny, warn bool   // which kinds of rule it has
}

// binding names the query variable of a package's deny or warn set.
func binding(kind string, i int) string { return fmt.Sprintf("%s_%d", kind, i) }

// resultsQuery binds deny_<i> and warn_<i> to the sets of the i-th package
// (for the kinds it has).
func resultsQuery(pkgs []rulePackage) string {
	q := []string{"true"}
	for i, p := range pkgs {
		if p.deny {
			q = append(q, fmt.Sprintf("%s = data.%s.%s", binding(kindDeny, i), p.path, kindDeny))
		}
		if p.warn {
			q = append(q, fmt.Sprintf("%s = data.%s.%s", binding(kindWarn, i), p.path, kindWarn))
		}
	}
	return strings.Join(q, "; ")
}

// deniedBuiltins would reach the network or the process environment; a
// release decision must depend on its inputs only.
var deniedBuiltins = []string{"http.send", "net.lookup_ip_addr", "opa.runtime"}

func offlineCapabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(slices.Clone(caps.Builtins), func(b *ast.Builtin) bool {
		return slices.Contains(deniedBuiltins, b.Name)
	})
	return caps
}
