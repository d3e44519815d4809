package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/registry"
)

// scope restricts an all-namespace read to what the caller may see. It
// returns a predicate for Namespace objects (filtered by name).
func (s *Server) scope(ctx context.Context, ri requestInfo, dec auth.Decision, opts *registry.ListOptions) (func(v1alpha1.Object) bool, error) {
	if !dec.Filter {
		return func(v1alpha1.Object) bool { return true }, nil
	}
	visible, err := s.authz.VisibleNamespaces(ctx, IdentityFrom(ctx))
	if err != nil {
		return nil, err
	}
	if ri.Kind.Kind != "Namespace" {
		opts.Namespaces = visible
		return func(v1alpha1.Object) bool { return true }, nil
	}
	set := map[string]bool{}
	for _, ns := range visible {
		set[ns] = true
	}
	return func(o v1alpha1.Object) bool { return set[o.GetName()] }, nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, ri requestInfo, dec auth.Decision) {
	opts, err := listParams(r, ri)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	keep, err := s.scope(r.Context(), ri, dec, &opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !wantsTable(r) && ri.Kind.Kind != "Namespace" && registry.CanListRaw(ri.Kind) {
		s.listRaw(w, r, ri, opts)
		return
	}
	res, err := s.reg.List(r.Context(), ri.Kind, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items := res.Items[:0]
	for _, o := range res.Items {
		if keep(o) {
			items = append(items, o)
		}
	}
	rv := strconv.FormatInt(res.ResourceVersion, 10)
	if wantsTable(r) {
		writeJSON(w, http.StatusOK, s.table(ri.Kind, items, res.Continue, rv, true))
		return
	}
	writeList(w, ri.Kind, items, res.Continue, rv)
}

// listRaw serves a JSON list from the stored documents, without decoding
// them.
func (s *Server) listRaw(w http.ResponseWriter, r *http.Request, ri requestInfo, opts registry.ListOptions) {
	res, err := s.reg.ListRaw(r.Context(), ri.Kind, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer res.Release()
	writeItems(w, ri.Kind, len(res.Items), func(b *bufio.Writer, i int) { _ = res.Items[i].WriteTo(b) },
		res.Continue, strconv.FormatInt(res.ResourceVersion, 10))
}

// writeList streams a kube-style list.
func writeList(w http.ResponseWriter, k *v1alpha1.Kind, items []v1alpha1.Object, cont, rv string) {
	writeItems(w, k, len(items), func(b *bufio.Writer, i int) {
		data, _ := json.Marshal(items[i])
		_, _ = b.Write(data)
	}, cont, rv)
}

// writeItems streams a kube-style list of n JSON documents, item(i) each.
func writeItems(w http.ResponseWriter, k *v1alpha1.Kind, n int, item func(*bufio.Writer, int), cont, rv string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	meta, _ := json.Marshal(map[string]string{"resourceVersion": rv, "continue": cont})
	// Items are small; writing them one by one to the connection costs a
	// hand-off to the HTTP/2 frame writer per few items.
	b := bufio.NewWriterSize(w, listWriteBuffer)
	_, _ = b.WriteString(`{"apiVersion":"` + k.APIVersion() + `","kind":"` + k.Kind + `List","metadata":`)
	_, _ = b.Write(meta)
	_, _ = b.WriteString(`,"items":[`)
	for i := range n {
		if i > 0 {
			_ = b.WriteByte(',')
		}
		item(b, i)
	}
	_, _ = b.WriteString("]}\n")
	_ = b.Flush()
}

// listWriteBuffer is the size of the chunks a list is written in.
const listWriteBuffer = 64 << 10
