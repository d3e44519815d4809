package sqlstore

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/store"
)

func TestContinueToken(t *testing.T) {
	t.Parallel()
	tok := encodeContinue("ns/with odd chars", "näme")
	got, err := decodeContinue(tok)
	if err != nil || got.Namespace != "ns/with odd chars" || got.Name != "näme" {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if got, err := decodeContinue(""); got != nil || err != nil {
		t.Fatalf("empty token: %+v, %v", got, err)
	}
	for _, bad := range []string{"!!", "e30", encodeContinue("ns", "")} { // e30 = "{}"
		if _, err := decodeContinue(bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("decodeContinue(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestDiffEntries(t *testing.T) {
	t.Parallel()
	old := indexEntries(map[string]string{"a": "1", "b": "2"}, nil, []string{"o1", "o1"})
	cur := indexEntries(map[string]string{"a": "1", "b": "3"}, map[string]string{"f": "x"}, nil)
	if len(old) != 3 {
		t.Fatalf("duplicate owners not collapsed: %v", old)
	}
	removed, added := diffEntries(old, cur)
	slices.SortFunc(removed, func(x, y entry) int { return strings.Compare(x[0], y[0]) })
	slices.SortFunc(added, func(x, y entry) int { return strings.Compare(x[0], y[0]) })
	if !slices.Equal(removed, []entry{{"l:b", "2"}, {"o:", "o1"}}) ||
		!slices.Equal(added, []entry{{"f:f", "x"}, {"l:b", "3"}}) {
		t.Fatalf("removed %v added %v", removed, added)
	}
	if entriesJSON(nil) != "[]" {
		t.Fatalf("entriesJSON(nil) = %s", entriesJSON(nil))
	}
}

func TestValidateRequirement(t *testing.T) {
	t.Parallel()
	ok := []store.Requirement{
		{Key: "a", Operator: store.OpEquals, Values: []string{""}},
		{Key: "a", Operator: store.OpIn, Values: []string{"x", "y"}},
		{Key: "a", Operator: store.OpDoesNotExist},
	}
	bad := []store.Requirement{
		{Key: "", Operator: store.OpExists},
		{Key: "a", Operator: store.OpEquals},
		{Key: "a", Operator: store.OpNotIn},
		{Key: "a", Operator: store.OpExists, Values: []string{"x"}},
		{Key: "a", Operator: "like", Values: []string{"x"}},
		{Key: "a\x00", Operator: store.OpExists},
	}
	for _, r := range ok {
		if err := validateRequirement(r); err != nil {
			t.Errorf("%+v: %v", r, err)
		}
	}
	for _, r := range bad {
		if err := validateRequirement(r); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%+v: got %v, want ErrInvalid", r, err)
		}
	}
}

// TestPlanUsesIndex checks which requirement drives the query and which are
// left to Go.
func TestPlanUsesIndex(t *testing.T) {
	t.Parallel()
	f := store.Filter{Kind: "K", Labels: []store.Requirement{
		{Key: "x", Operator: store.OpExists},
		{Key: "app", Operator: store.OpEquals, Values: []string{"web"}},
		{Key: "tier", Operator: store.OpIn, Values: []string{"a", "b"}},
	}, Fields: []store.Requirement{{Key: "metadata.name", Operator: store.OpNotEquals, Values: []string{"n"}}}}
	p := planList(sqliteDialect, &f)
	q, args := p.selectSQL(&continueToken{Namespace: "ns", Name: "a"}, 10)
	if p.alias != "d" || args[1] != "l:app" {
		t.Fatalf("driver: alias %s args %v", p.alias, args)
	}
	if !strings.Contains(q, "EXISTS (SELECT 1 FROM object_index x") || !strings.Contains(q, "d.name NOT IN") {
		t.Fatalf("query misses the tier lookup or the name condition:\n%s", q)
	}
	if len(p.residual.Labels) != 1 || p.residual.Labels[0].Key != "x" || len(p.residual.Fields) != 0 {
		t.Fatalf("residual = %+v, want the exists requirement", p.residual)
	}
	if n := len(regexp.MustCompile(`\$\d+`).FindAllString(q, -1)); n != len(args) {
		t.Fatalf("%d placeholders for %d args", n, len(args))
	}
	owner := planList(postgresDialect, &store.Filter{Kind: "K", OwnerUID: "u", Labels: f.Labels[1:2]})
	if owner.args[1] != ownerKey || owner.args[2] != "u" {
		t.Fatalf("owner should drive: %v", owner.args)
	}
}

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	d := withDefaults(store.Options{})
	if d.EventRetention != DefaultEventRetention || d.MinEvents != DefaultMinEvents || d.PollInterval != DefaultPollInterval {
		t.Fatalf("defaults: %+v", d)
	}
	n := withDefaults(store.Options{EventRetention: -time.Second, MinEvents: -1, PollInterval: time.Second})
	if n.EventRetention != 0 || n.MinEvents != 0 || n.PollInterval != time.Second {
		t.Fatalf("negative values: %+v", n)
	}
}

func TestNewUID(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if a, b := newUID(), newUID(); !re.MatchString(a) || a == b {
		t.Fatalf("newUID: %q, %q", a, b)
	}
}
