package policy

import (
	"strings"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// scope is a source's include and exclude lists, applied with Conforma's
// precedence: each list scores the entries matching a result by
// specificity, and the result is in scope when the include score is
// higher than the exclude score (so exclude wins a tie).
type scope struct {
	include, exclude []string
}

func newScope(cfg *v1alpha1.PolicyConfig) scope {
	var s scope
	if cfg != nil {
		s.include, s.exclude = trimAll(cfg.Include), trimAll(cfg.Exclude)
	}
	if len(s.include) == 0 {
		s.include = []string{"*"}
	}
	return s
}

// contains reports whether the result with this code, term and
// collections is in scope.
func (s scope) contains(code, term string, collections []string) bool {
	m := matchers(code, term, collections)
	return scoreMatches(m, s.include) > scoreMatches(m, s.exclude)
}

// matchers are the entries that select a result: "pkg", "pkg.*",
// "pkg.rule", each also with ":term" when there is a term, "*", and
// "@collection" for each of the rule's collections.
func matchers(code, term string, collections []string) []string {
	pkg, rule := splitCode(code)
	var out []string
	if pkg != "" {
		out = append(out, pkg, pkg+".*", pkg+"."+rule)
	}
	if term != "" {
		for _, m := range out {
			out = append(out, m+":"+term)
		}
	}
	out = append(out, "*")
	for _, c := range collections {
		out = append(out, "@"+c)
	}
	return out
}

// splitCode splits "pkg.rule" at its last dot.
func splitCode(code string) (pkg, rule string) {
	i := strings.LastIndex(code, ".")
	if i < 0 {
		return "", code
	}
	return code[:i], code[i+1:]
}

func scoreMatches(matchers, entries []string) int {
	total := 0
	for _, m := range matchers {
		for _, e := range entries {
			if e == m {
				total += score(e)
			}
		}
	}
	return total
}

// score is an entry's specificity: 10 for "@collection"; otherwise 1 for a
// "*" package or 10 for a named one, plus 100 for a rule and 100 for a
// term. "pkg.rule:term" scores 210.
func score(entry string) int {
	if strings.HasPrefix(entry, "@") {
		return 10
	}
	name, term, _ := strings.Cut(entry, ":")
	v := 0
	if term != "" {
		v += 100
	}
	pkg, rule, _ := strings.Cut(name, ".")
	if pkg == "*" {
		v++
	} else {
		v += 10
	}
	if rule != "*" && rule != "" {
		v += 100
	}
	return v
}

func trimAll(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
