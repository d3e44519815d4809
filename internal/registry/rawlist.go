package registry

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/store"
)

// RawListResult is one page of objects as JSON documents.
type RawListResult struct {
	Items           []RawItem
	Continue        string
	ResourceVersion int64
	// release gives the documents' buffer back for the next list.
	release func()
}

// Release gives the page's memory back to the registry once its items
// were written; they must not be used afterwards.
func (r *RawListResult) Release() {
	if r.release != nil {
		r.release()
		r.release = nil
	}
}

// RawItem is a stored document and the resourceVersion that goes first in
// its metadata (the registry stores documents without it). It is written
// out in pieces, never copied: a list of 1,000 objects allocates no
// second copy of them.
type RawItem struct {
	doc []byte
	at  int // just after `"metadata":{`
	rv  int64
}

// rawItem checks that doc has a metadata object (json.Marshal writes
// metadata as an object with at least a name) and finds where the
// resourceVersion goes.
func rawItem(doc []byte, rv int64) (RawItem, error) {
	i := bytes.Index(doc, metadataKey)
	if i < 0 || i+len(metadataKey) >= len(doc) {
		return RawItem{}, fmt.Errorf("no metadata object")
	}
	return RawItem{doc: doc, at: i + len(metadataKey), rv: rv}, nil
}

// WriteTo writes the document with its resourceVersion to w.
func (it RawItem) WriteTo(w *bufio.Writer) error {
	_, _ = w.Write(it.doc[:it.at])
	_, _ = w.WriteString(`"resourceVersion":"`)
	_, _ = w.Write(strconv.AppendInt(w.AvailableBuffer(), it.rv, 10))
	_ = w.WriteByte('"')
	if it.doc[it.at] != '}' {
		_ = w.WriteByte(',')
	}
	_, err := w.Write(it.doc[it.at:])
	return err
}

// AppendTo appends the document with its resourceVersion to out.
func (it RawItem) AppendTo(out []byte) []byte {
	out = append(out, it.doc[:it.at]...)
	out = append(out, `"resourceVersion":"`...)
	out = strconv.AppendInt(out, it.rv, 10)
	out = append(out, '"')
	if it.doc[it.at] != '}' {
		out = append(out, ',')
	}
	return append(out, it.doc[it.at:]...)
}

// CanListRaw reports whether ListRaw serves kind k: every kind but Secret
// (whose values are sealed at rest).
func CanListRaw(k *v1alpha1.Kind) bool { return k.Kind != secretKind }

// ListRaw is List without decoding: each item is the stored document with
// its resourceVersion set. A page of 500 objects costs two JSON passes
// less per object than List, which is what large lists spend their time
// on.
func (r *Registry) ListRaw(ctx context.Context, k *v1alpha1.Kind, opts ListOptions) (*RawListResult, error) {
	if !CanListRaw(k) {
		return nil, apierrors.NewInternalError(fmt.Errorf("%s cannot be listed raw", k.Kind))
	}
	f, err := r.Filter(k, opts)
	if err != nil {
		return nil, err
	}
	lo := store.ListOptions{Filter: f, Limit: opts.Limit, Continue: opts.Continue, DataOnly: true}
	if each, ok := r.store.(eachLister); ok {
		return r.listRawEach(ctx, k, each, lo)
	}
	res, err := r.store.List(ctx, lo)
	if err != nil {
		return nil, r.storeErr(k, "", err)
	}
	items, err := rawItems(res.Items)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return &RawListResult{Continue: res.Continue, ResourceVersion: res.ResourceVersion, Items: items}, nil
}

// eachLister is a store that hands out a page's objects one by one, in
// its own buffers (sqlstore).
type eachLister interface {
	ListEach(ctx context.Context, opts store.ListOptions, fn func(*store.Object) error) (*store.ListResult, error)
}

// listRawEach copies each document of the page into one buffer, reused
// from list to list: a list costs the store's read and this copy.
func (r *Registry) listRawEach(ctx context.Context, k *v1alpha1.Kind, each eachLister, opts store.ListOptions) (*RawListResult, error) {
	buf := r.rawBuffer()
	type span struct {
		start, end int
		rv         int64
	}
	var spans []span
	res, err := each.ListEach(ctx, opts, func(o *store.Object) error {
		start := len(*buf)
		*buf = append(*buf, o.Data...)
		spans = append(spans, span{start, len(*buf), o.ResourceVersion})
		return nil
	})
	if err != nil {
		r.putRawBuffer(buf)
		return nil, r.storeErr(k, "", err)
	}
	out := &RawListResult{Continue: res.Continue, ResourceVersion: res.ResourceVersion,
		Items: make([]RawItem, len(spans)), release: func() { r.putRawBuffer(buf) }}
	for i, sp := range spans {
		if out.Items[i], err = rawItem((*buf)[sp.start:sp.end:sp.end], sp.rv); err != nil {
			out.Release()
			return nil, apierrors.NewInternalError(fmt.Errorf("a stored %s: %w", k.Kind, err))
		}
	}
	return out, nil
}

// maxPooledRawBuffer bounds the buffers kept for reuse: one huge list
// does not pin its memory.
const maxPooledRawBuffer = 8 << 20

func (r *Registry) putRawBuffer(b *[]byte) {
	if cap(*b) <= maxPooledRawBuffer {
		r.rawBufs.Put(b)
	}
}

// rawBuffer is an empty buffer for a page's documents.
func (r *Registry) rawBuffer() *[]byte {
	if b, ok := r.rawBufs.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

// rawItems makes every record a RawItem.
func rawItems(recs []*store.Object) ([]RawItem, error) {
	items := make([]RawItem, len(recs))
	for i, rec := range recs {
		var err error
		if items[i], err = rawItem(rec.Data, rec.ResourceVersion); err != nil {
			return nil, fmt.Errorf("stored %s: %w", rec.Key(), err)
		}
	}
	return items, nil
}

var metadataKey = []byte(`"metadata":{`)
