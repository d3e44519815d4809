package registry

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/kilnbuild/kiln/internal/store"
)

func TestWithResourceVersions(t *testing.T) {
	recs := []*store.Object{
		{Name: "a", ResourceVersion: 7, Data: []byte(`{"kind":"X","metadata":{"name":"a"},"spec":{}}`)},
		{Name: "b", ResourceVersion: 12345678901, Data: []byte(`{"metadata":{}}`)},
	}
	items, err := rawItems(recs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"kind":"X","metadata":{"resourceVersion":"7","name":"a"},"spec":{}}`,
		`{"metadata":{"resourceVersion":"12345678901"}}`,
	}
	for i, w := range want {
		if got := string(items[i].AppendTo(nil)); got != w {
			t.Errorf("item %d appended = %s, want %s", i, got, w)
		}
		var out bytes.Buffer
		bw := bufio.NewWriterSize(&out, 16) // smaller than a document: written in pieces
		if err := items[i].WriteTo(bw); err != nil || bw.Flush() != nil {
			t.Fatal(err)
		}
		if out.String() != w {
			t.Errorf("item %d written = %s, want %s", i, out.String(), w)
		}
	}
	for _, bad := range []string{`{"name":"x"}`, `{"metadata":{`} {
		if _, err := rawItems([]*store.Object{{Name: "x", Data: []byte(bad)}}); err == nil {
			t.Errorf("%s: no error for a document without a metadata object", bad)
		}
	}
}
