package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/kilnbuild/kiln/internal/store"
)

// ListEach gives the same pages as List (items, continue tokens, resource
// version), for filters done in SQL and filters checked partly in Go, and
// its objects' Data are only borrowed: copying them is the caller's job.
func TestListEachMatchesList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for backend, s := range openBoth(t) {
		t.Run(backend, func(t *testing.T) {
			for i := range 23 {
				o := &store.Object{Kind: "K", Namespace: fmt.Sprintf("ns%d", i%3), Name: fmt.Sprintf("o%02d", i),
					Labels: map[string]string{"shard": fmt.Sprint(i % 2)}, Data: []byte(fmt.Sprintf(`{"metadata":{"name":"o%02d"},"n":%d}`, i, i))}
				if _, err := s.Create(ctx, o); err != nil {
					t.Fatal(err)
				}
			}
			filters := map[string]store.Filter{
				"all":                       {Kind: "K"},
				"namespace":                 {Kind: "K", Namespace: "ns1"},
				"label":                     {Kind: "K", Labels: []store.Requirement{{Key: "shard", Operator: store.OpEquals, Values: []string{"1"}}}},
				"not equal (checked in Go)": {Kind: "K", Labels: []store.Requirement{{Key: "shard", Operator: store.OpNotEquals, Values: []string{"1"}}}},
				"none":                      {Kind: "K", Namespaces: []string{}},
			}
			for name, f := range filters {
				for _, limit := range []int{0, 1, 5, 12, 100} {
					want, got := pages(t, s.List, f, limit, false), pages(t, s.eachAsList, f, limit, true)
					if !slices.Equal(want, got) {
						t.Errorf("%s, limit %d:\nList     %v\nListEach %v", name, limit, want, got)
					}
				}
			}
		})
	}
}

// eachAsList is ListEach copying what it is handed into a ListResult.
func (s *Store) eachAsList(ctx context.Context, opts store.ListOptions) (*store.ListResult, error) {
	var items []*store.Object
	res, err := s.ListEach(ctx, opts, func(o *store.Object) error {
		c := *o
		c.Data = slices.Clone(o.Data)
		items = append(items, &c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Items = items
	return res, nil
}

// pages lists every page and writes each item, then the page's continue
// token and whether its resource version is set.
func pages(t *testing.T, list func(context.Context, store.ListOptions) (*store.ListResult, error), f store.Filter, limit int, dataOnly bool) []string {
	t.Helper()
	var out []string
	cont := ""
	for range 100 {
		res, err := list(context.Background(), store.ListOptions{Filter: f, Limit: limit, Continue: cont, DataOnly: dataOnly})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Items {
			out = append(out, fmt.Sprintf("%s/%s rv=%d uid=%t %s", o.Namespace, o.Name, o.ResourceVersion, o.UID != "", o.Data))
		}
		out = append(out, fmt.Sprintf("page: rv>0=%t continue=%t", res.ResourceVersion > 0, res.Continue != ""))
		if cont = res.Continue; cont == "" {
			return out
		}
	}
	t.Fatal("more than 100 pages")
	return nil
}
