package registry

import (
	"testing"

	"github.com/kilnbuild/kiln/internal/store"
)

func TestWithResourceVersions(t *testing.T) {
	recs := []*store.Object{
		{Name: "a", ResourceVersion: 7, Data: []byte(`{"kind":"X","metadata":{"name":"a"},"spec":{}}`)},
		{Name: "b", ResourceVersion: 12345678901, Data: []byte(`{"metadata":{}}`)},
	}
	items, err := withResourceVersions(recs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"kind":"X","metadata":{"resourceVersion":"7","name":"a"},"spec":{}}`,
		`{"metadata":{"resourceVersion":"12345678901"}}`,
	}
	for i, w := range want {
		if string(items[i]) != w {
			t.Errorf("item %d = %s, want %s", i, items[i], w)
		}
	}
	// Items share one buffer: appending to one must not overwrite the next.
	_ = append(items[0], "XXXXXXXX"...)
	if string(items[1]) != want[1] {
		t.Errorf("appending to item 0 changed item 1: %s", items[1])
	}
	for _, bad := range []string{`{"name":"x"}`, `{"metadata":{`} {
		if _, err := withResourceVersions([]*store.Object{{Name: "x", Data: []byte(bad)}}); err == nil {
			t.Errorf("%s: no error for a document without a metadata object", bad)
		}
	}
}
