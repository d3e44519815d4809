package policy

import (
	"fmt"
	"time"
)

// decodeResult reads one element of a deny or warn set. Rules should make
// objects with lib.result_helper; anything else becomes a result with the
// package's name as code and the value as message.
func decodeResult(p rulePackage, item any) Result {
	obj, ok := item.(map[string]any)
	if !ok {
		return Result{Code: lastSegment(p.path), Msg: fmt.Sprint(item)}
	}
	r := Result{
		Code:        str(obj["code"]),
		Msg:         str(obj["msg"]),
		EffectiveOn: str(obj["effective_on"]),
		Term:        str(obj["term"]),
	}
	if r.Code == "" {
		r.Code = lastSegment(p.path)
	}
	r.Collections, _ = stringList(obj["collections"])
	return r
}

func str(v any) string {
	switch s := v.(type) {
	case nil:
		return ""
	case string:
		return s
	}
	return fmt.Sprint(v)
}

// withRule adds the rule's metadata, which is authoritative over what the
// result carries (as in Conforma).
func (r *Result) withRule(rule Rule, known bool) {
	if !known {
		return
	}
	r.Title, r.Description = rule.Title, rule.Description
	if len(rule.Collections) > 0 {
		r.Collections = rule.Collections
	}
	if r.EffectiveOn == "" && !rule.EffectiveOn.IsZero() {
		r.EffectiveOn = rule.EffectiveOn.UTC().Format(effectiveOnFormat)
	}
}

// success is the result listed for a rule that reported nothing.
func (rule Rule) success() Result {
	r := Result{Code: rule.Code, Msg: "Pass", Title: rule.Title, Description: rule.Description, Collections: rule.Collections}
	if !rule.EffectiveOn.IsZero() {
		r.EffectiveOn = rule.EffectiveOn.UTC().Format(time.RFC3339)
	}
	return r
}
