package server

import (
	"reflect"
	"testing"
)

// TestListItemsEqualGets: lists are served from the stored documents
// (registry.ListRaw), gets decode them; both must give the same objects,
// resourceVersion included, for every kind that lists raw.
func TestListItemsEqualGets(t *testing.T) {
	t.Parallel()
	f := testFactory(t, "")
	a := api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	a.must(201, "POST", nsPath("default", "applications"), app("greet"))
	for _, name := range []string{"a", "b", "c"} {
		c := component(name, "greet")
		c["metadata"].(map[string]any)["labels"] = map[string]any{"tier": name}
		c["metadata"].(map[string]any)["annotations"] = map[string]any{"note": "x"}
		a.must(201, "POST", nsPath("default", "components"), c)
	}
	// A status written by the system, and an update: the stored document
	// and its resourceVersion move apart from the create.
	a.must(200, "PATCH", nsPath("default", "components")+"/b", map[string]any{"metadata": map[string]any{"labels": map[string]any{"tier": "B"}}},
		"Content-Type", "application/merge-patch+json")
	for _, path := range []string{nsPath("default", "components"), nsPath("default", "applications"), "/apis/kiln.dev/v1alpha1/components"} {
		list := a.must(200, "GET", path, nil).Obj
		items := list["items"].([]any)
		if len(items) == 0 {
			t.Fatalf("%s: empty list", path)
		}
		for _, it := range items {
			m := it.(map[string]any)
			meta := m["metadata"].(map[string]any)
			got := a.must(200, "GET", nsPath(meta["namespace"].(string), pluralOf(m["kind"].(string)))+"/"+meta["name"].(string), nil).Obj
			if !reflect.DeepEqual(m, got) {
				t.Fatalf("%s: list item differs from get:\nlist %v\nget  %v", path, m, got)
			}
		}
	}
}

func pluralOf(kind string) string {
	return map[string]string{"Component": "components", "Application": "applications"}[kind]
}
