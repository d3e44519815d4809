package policy

import (
	"fmt"
	"strings"
	"time"
)

// Summary is the verdict for people: a headline, then per component a
// line of counts and one line per violation and warning.
func (v Verdict) Summary() []string {
	failed := 0
	for _, c := range v.Components {
		if !c.Passed() {
			failed++
		}
	}
	state := "PASSED"
	if !v.Success {
		state = "FAILED"
	}
	out := []string{fmt.Sprintf("policy %s: %s (%d of %d components failed, evaluated %s)",
		v.policyName(), state, failed, len(v.Components), v.EvaluatedAt.UTC().Format("2006-01-02T15:04:05Z"))}
	if len(v.Components) == 0 {
		out = append(out, "no components to evaluate")
	}
	for _, c := range v.Components {
		out = append(out, componentSummary(c, v.EvaluatedAt)...)
	}
	return out
}

func componentSummary(c ComponentResult, at time.Time) []string {
	out := []string{fmt.Sprintf("%s (%s): %s, %s, %s", c.Name, c.Image,
		plural(len(c.Violations), "violation"), plural(len(c.Warnings), "warning"), plural(len(c.Successes), "success"))}
	for _, r := range c.Violations {
		out = append(out, "  FAIL "+r.Code+": "+r.Msg)
	}
	for _, r := range c.Warnings {
		out = append(out, "  warn "+r.Code+": "+r.Msg+futureNote(r, at))
	}
	return out
}

// futureNote marks a result whose rule is not effective yet at: a deny
// that only warns until then.
func futureNote(r Result, at time.Time) string {
	t, err := time.Parse(effectiveOnFormat, r.EffectiveOn)
	if err != nil || !t.After(at) {
		return ""
	}
	return " (effective from " + r.EffectiveOn + ")"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "s") {
		return fmt.Sprintf("%d %ses", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
