package policy

import "maps"

// mergeRuleData returns the shipped defaults with the source's ruleData
// over them, key by key (a key given replaces the default's whole value).
func mergeRuleData(defaults, source map[string]any) map[string]any {
	out := make(map[string]any, len(defaults)+len(source))
	maps.Copy(out, defaults)
	maps.Copy(out, source)
	return out
}
