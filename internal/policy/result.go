package policy

import "time"

// Result is one rule outcome: a violation, a warning or a success.
type Result struct {
	// Code is "<package>.<short_name>", e.g. "sbom.present".
	Code string `json:"code"`
	// Msg is the failure message ("Pass" for successes).
	Msg string `json:"msg"`
	// EffectiveOn is when the rule starts to deny (RFC 3339); before then
	// its violations are warnings.
	EffectiveOn string `json:"effective_on,omitempty"`
	// Term narrows the result (e.g. a task or scenario name); include and
	// exclude can name it as "<code>:<term>".
	Term        string   `json:"term,omitempty"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Collections []string `json:"collections,omitempty"`
}

// ComponentResult is the outcome for one artifact.
type ComponentResult struct {
	Name       string   `json:"name"`
	Image      string   `json:"image"`
	Violations []Result `json:"violations"`
	Warnings   []Result `json:"warnings"`
	Successes  []Result `json:"successes"`
}

// Passed reports whether the component has no violation.
func (c ComponentResult) Passed() bool { return len(c.Violations) == 0 }

// PolicyRef names the policy a verdict was reached with.
type PolicyRef struct {
	Name string `json:"name,omitempty"`
	// Digest identifies the policy's sources (sha256 of their JSON and of
	// the shipped rules).
	Digest string `json:"digest"`
}

// Verdict is the outcome for a set of artifacts (a Snapshot).
type Verdict struct {
	// Success is true when there was at least one component and none has
	// a violation.
	Success     bool              `json:"success"`
	Components  []ComponentResult `json:"components"`
	EvaluatedAt time.Time         `json:"evaluatedAt"`
	Policy      PolicyRef         `json:"policy"`
}
