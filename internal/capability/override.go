package capability

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// OverrideFile is the file in the source tree that adds to and removes from
// what is detected.
const OverrideFile = ".kiln/capabilities.yaml"

// override is the content of OverrideFile.
type override struct {
	// Provides are added to what the component provides.
	Provides []string `json:"provides"`
	// Requires are added to the build requirements; an item is a name or a
	// list of alternative names.
	Requires []alternatives `json:"requires"`
	// Ignore are names ('*' matches any run of characters) removed from
	// what was detected: a provide that matches is dropped, and so is a
	// requirement any of whose alternatives matches (it is taken as met
	// outside Kiln).
	Ignore []string `json:"ignore"`
}

type alternatives []string

func (a *alternatives) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = alternatives{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("a requirement must be a name or a list of alternative names")
	}
	*a = many
	return nil
}

// applyOverride merges OverrideFile into what the detectors found.
func applyOverride(c *collector) error {
	data, ok, err := c.read(OverrideFile)
	if !ok {
		return err
	}
	var o override
	if err := yaml.UnmarshalStrict(data, &o); err != nil {
		return yamlError(err)
	}
	if err := o.validate(); err != nil {
		return &Error{File: OverrideFile, Msg: err.Error()}
	}
	c.set.Detected = append(c.set.Detected, "override")
	o.filter(c)
	for _, p := range o.Provides {
		c.provide(p, OverrideFile)
	}
	for _, r := range o.Requires {
		c.buildReq(Requirement{Any: r, Source: OverrideFile})
	}
	return nil
}

var yamlLine = regexp.MustCompile(`yaml: line (\d+): (.*)$`)

// yamlError gives YAML syntax errors their line and strips the layers of
// "error unmarshaling JSON: ..." sigs.k8s.io/yaml adds.
func yamlError(err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: OverrideFile, Line: line, Msg: m[2]}
	}
	for _, p := range []string{"error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	if strings.HasPrefix(msg, "unknown field") {
		msg += " (the keys are provides, requires and ignore)"
	}
	return &Error{File: OverrideFile, Msg: msg}
}

func (o *override) validate() error {
	for i, p := range o.Provides {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("provides[%d] is empty", i)
		}
	}
	for i, r := range o.Requires {
		if len(r) == 0 || slices.ContainsFunc(r, func(s string) bool { return strings.TrimSpace(s) == "" }) {
			return fmt.Errorf("requires[%d] is empty or has an empty alternative", i)
		}
	}
	for i, p := range o.Ignore {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("ignore[%d] is empty", i)
		}
	}
	return nil
}

// filter drops what Ignore names and warns about patterns that matched
// nothing.
func (o *override) filter(c *collector) {
	used := make([]bool, len(o.Ignore))
	c.set.Provides = slices.DeleteFunc(c.set.Provides, func(p Provide) bool { return o.ignores(used, p.Name) })
	drop := func(r Requirement) bool { return o.ignores(used, r.Any...) }
	c.set.BuildRequires = slices.DeleteFunc(c.set.BuildRequires, drop)
	c.set.RuntimeRequires = slices.DeleteFunc(c.set.RuntimeRequires, drop)
	for i, u := range used {
		if !u {
			c.warn("%s: ignore %q matched nothing that was detected", OverrideFile, o.Ignore[i])
		}
	}
}

// ignores says whether a pattern matches any of names, marking every
// pattern that matches one.
func (o *override) ignores(used []bool, names ...string) bool {
	hit := false
	for i, pat := range o.Ignore {
		for _, n := range names {
			if globMatch(pat, n) {
				used[i], hit = true, true
			}
		}
	}
	return hit
}

// globMatch matches s against a pattern where '*' stands for any run of
// characters (including none and '/'); everything else is literal.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
