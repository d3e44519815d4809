package policy

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
)

// BuiltinLocation is the policy location of the rule collections shipped
// with Kiln (minimal, slsa3). "builtin:kiln" is accepted as well.
const BuiltinLocation = "kiln://rules"

var builtinLocations = []string{BuiltinLocation, "builtin:kiln"}

//go:embed rules/*.rego rules/rule_data.json
var rulesFS embed.FS

const (
	libModule    = "lib.rego"
	ruleDataFile = "rule_data.json"
)

// source is a Rego module to compile: its name (used in errors) and text.
type moduleSource struct {
	name, text string
}

var builtin = sync.OnceValues(loadBuiltin)

type builtinRules struct {
	lib      moduleSource
	rules    []moduleSource // the collections, without lib
	ruleData map[string]any
	digest   string // sha256 of everything shipped
}

func loadBuiltin() (*builtinRules, error) {
	names, err := fs.Glob(rulesFS, "rules/*")
	if err != nil {
		return nil, fmt.Errorf("listing shipped rules: %w", err)
	}
	slices.Sort(names)
	b := &builtinRules{}
	h := sha256.New()
	for _, n := range names {
		text, err := rulesFS.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("reading shipped rules: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00%s", n, len(text), text)
		if err := b.add(path.Base(n), text); err != nil {
			return nil, err
		}
	}
	b.digest = hex.EncodeToString(h.Sum(nil))
	return b, nil
}

func (b *builtinRules) add(base string, text []byte) error {
	m := moduleSource{name: BuiltinLocation + "/" + base, text: string(text)}
	switch {
	case base == ruleDataFile:
		if err := json.Unmarshal(text, &b.ruleData); err != nil {
			return fmt.Errorf("shipped %s: %w", ruleDataFile, err)
		}
	case base == libModule:
		b.lib = m
	case strings.HasSuffix(base, ".rego"):
		b.rules = append(b.rules, m)
	}
	return nil
}

func isBuiltinLocation(loc string) bool {
	return slices.Contains(builtinLocations, strings.TrimSpace(loc))
}
