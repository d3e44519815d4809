package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// sourceModules lists the modules of one policy source: Kiln's lib, the
// shipped collections when a location names them, and the inline modules.
func sourceModules(src v1alpha1.PolicySource, b *builtinRules) ([]moduleSource, error) {
	mods := []moduleSource{b.lib}
	shipped := false
	for _, loc := range src.Policy {
		if !isBuiltinLocation(loc) {
			return nil, fmt.Errorf("policy location %q cannot be fetched: Kiln evaluates policies offline. "+
				"Put the rules inline under \"rego\", or use %q for the rule collections Kiln ships", loc, BuiltinLocation)
		}
		if !shipped {
			mods, shipped = append(mods, b.rules...), true
		}
	}
	if len(src.Data) > 0 {
		return nil, fmt.Errorf("data location %q cannot be fetched: Kiln evaluates policies offline. "+
			"Put the values under \"ruleData\" instead", src.Data[0])
	}
	for _, m := range src.Rego {
		mods = append(mods, moduleSource{name: m.Name, text: m.Module})
	}
	if len(mods) == 1 {
		return nil, errors.New("the source has no rules: give policy locations, inline rego modules, or both")
	}
	return mods, nil
}

// parseModules parses Rego v1 modules with their METADATA comments. All
// errors are returned, each with the module name and line.
func parseModules(mods []moduleSource) (map[string]*ast.Module, error) {
	out := make(map[string]*ast.Module, len(mods))
	var errs []error
	opts := ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1}
	for _, m := range mods {
		if _, dup := out[m.name]; dup {
			errs = append(errs, fmt.Errorf("module %s: the name is used twice", m.name))
			continue
		}
		parsed, err := ast.ParseModuleWithOpts(m.name, m.text, opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("parsing %s: %w", m.name, err))
			continue
		}
		out[m.name] = parsed
	}
	return out, errors.Join(errs...)
}

// indexRules reads the metadata of every deny and warn rule, and checks
// that release rules live under policy.release.
func indexRules(c *ast.Compiler) (map[string]Rule, []rulePackage, error) {
	rules := map[string]Rule{}
	pkgs := map[string]*rulePackage{}
	var errs []error
	as := c.GetAnnotationSet()
	for _, name := range sortedKeys(c.Modules) {
		mod := c.Modules[name]
		pkg := strings.TrimPrefix(mod.Package.Path.String(), "data.")
		for _, r := range mod.Rules {
			kind := r.Head.Ref().String()
			if kind != kindDeny && kind != kindWarn {
				continue
			}
			if !strings.HasPrefix(pkg, rulePrefix) {
				errs = append(errs, fmt.Errorf("%s: package %s has %s rules but is not under %s: rename it to %s%s",
					location(r.Location), pkg, kind, strings.TrimSuffix(rulePrefix, "."), rulePrefix, lastSegment(pkg)))
				continue
			}
			info, err := ruleFor(pkg, r, as.GetRuleScope(r))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if pkgs[pkg] == nil {
				pkgs[pkg] = &rulePackage{path: pkg}
			}
			pkgs[pkg].deny = pkgs[pkg].deny || kind == kindDeny
			pkgs[pkg].warn = pkgs[pkg].warn || kind == kindWarn
			if _, seen := rules[info.Code]; !seen {
				rules[info.Code] = info
			}
		}
	}
	var list []rulePackage
	for _, p := range sortedKeys(pkgs) {
		list = append(list, *pkgs[p])
	}
	return rules, list, errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
