package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DefaultPageSize is the page size List and Table ask for.
const DefaultPageSize = 500

// ListOptions filters lists and watches.
type ListOptions struct {
	LabelSelector string
	FieldSelector string
	// Limit is the page size (DefaultPageSize when zero); List always
	// returns every page.
	Limit int
	// ResourceVersion is where a watch starts.
	ResourceVersion string
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.LabelSelector != "" {
		q.Set("labelSelector", o.LabelSelector)
	}
	if o.FieldSelector != "" {
		q.Set("fieldSelector", o.FieldSelector)
	}
	return q
}

func (o ListOptions) pageSize() int {
	if o.Limit > 0 {
		return o.Limit
	}
	return DefaultPageSize
}

// page is the query of the page after continue token cont ("" for the
// first).
func (o ListOptions) page(cont string) url.Values {
	q := o.query()
	q.Set("limit", strconv.Itoa(o.pageSize()))
	if cont != "" {
		q.Set("continue", cont)
	}
	return q
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// Get reads one object. ns is ignored for cluster-scoped resources.
func (c *Client) Get(ctx context.Context, r Resource, ns, name string) (Object, error) {
	return c.doObject(ctx, http.MethodGet, r.Path(ns, name), nil, nil)
}

// List reads every object of r in ns (all namespaces when ns is empty),
// following continue tokens until the last page.
func (c *Client) List(ctx context.Context, r Resource, ns string, opts ListOptions) (*List, error) {
	out := &List{}
	cont := ""
	for {
		var page listPage
		if err := c.getJSON(ctx, withQuery(r.Path(ns, ""), opts.page(cont)), &page); err != nil {
			return nil, err
		}
		if out.Kind == "" {
			out.APIVersion, out.Kind = page.APIVersion, page.Kind
			out.ResourceVersion = page.Metadata.ResourceVersion
		}
		out.Items = append(out.Items, page.Items...)
		cont = page.Metadata.Continue
		if cont == "" {
			return out, nil
		}
	}
}

// Create posts obj to r's collection in ns and returns the stored object.
func (c *Client) Create(ctx context.Context, r Resource, ns string, obj Object) (Object, error) {
	return c.doObject(ctx, http.MethodPost, r.Path(ns, ""), obj, nil)
}

// Update replaces an object. obj must carry metadata.resourceVersion; a
// stale one fails with a Conflict (errors.Is(err, ErrConflict)).
func (c *Client) Update(ctx context.Context, r Resource, ns string, obj Object) (Object, error) {
	return c.doObject(ctx, http.MethodPut, r.Path(ns, obj.Name()), obj, nil)
}

// UpdateStatus replaces an object's status through the status subresource.
func (c *Client) UpdateStatus(ctx context.Context, r Resource, ns string, obj Object) (Object, error) {
	return c.doObject(ctx, http.MethodPut, r.Path(ns, obj.Name(), "status"), obj, nil)
}

// Patch applies a patch of contentType (ContentTypeMergePatch or
// ContentTypeJSONPatch) to one object and returns the result.
func (c *Client) Patch(ctx context.Context, r Resource, ns, name, contentType string, patch []byte) (Object, error) {
	h := http.Header{"Content-Type": {contentType}}
	return c.doObject(ctx, http.MethodPatch, r.Path(ns, name), patch, h)
}

// Delete deletes one object; opts may be nil.
func (c *Client) Delete(ctx context.Context, r Resource, ns, name string, opts *metav1.DeleteOptions) error {
	var body any
	if opts != nil {
		o := *opts
		o.Kind, o.APIVersion = "DeleteOptions", "v1"
		body = &o
	}
	_, err := c.Do(ctx, http.MethodDelete, r.Path(ns, name), body, nil)
	return err
}

func (c *Client) doObject(ctx context.Context, method, path string, body any, h http.Header) (Object, error) {
	data, err := c.Do(ctx, method, path, body, h)
	if err != nil {
		return nil, err
	}
	o, err := DecodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("%s %s: unexpected response: %w", method, path, err)
	}
	return o, nil
}

// Table asks the server to render objects as a metav1.Table: one object
// when name is set, else the collection (every page). When the server
// answers with plain objects, Table builds a NAME/AGE table from them, so
// callers always get a table. Rows carry the objects' metadata.
func (c *Client) Table(ctx context.Context, r Resource, ns, name string, opts ListOptions) (*metav1.Table, error) {
	h := http.Header{"Accept": {AcceptTable}}
	if name != "" {
		data, err := c.Do(ctx, http.MethodGet, r.Path(ns, name), nil, h)
		if err != nil {
			return nil, err
		}
		return decodeTable(data)
	}
	var out *metav1.Table
	cont := ""
	for {
		data, err := c.Do(ctx, http.MethodGet, withQuery(r.Path(ns, ""), opts.page(cont)), nil, h)
		if err != nil {
			return nil, err
		}
		t, err := decodeTable(data)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = t
		} else {
			out.Rows = append(out.Rows, t.Rows...)
		}
		if cont = t.Continue; cont == "" {
			out.Continue = ""
			return out, nil
		}
	}
}

// decodeTable decodes a Table, or converts a plain object or list.
func decodeTable(data []byte) (*metav1.Table, error) {
	var head struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("unexpected response: %w", err)
	}
	if head.Kind == "Table" {
		var t metav1.Table
		if err := json.Unmarshal(data, &t); err != nil {
			return nil, fmt.Errorf("unexpected table: %w", err)
		}
		return &t, nil
	}
	var page listPage
	if err := json.Unmarshal(data, &page); err != nil {
		return nil, fmt.Errorf("unexpected response: %w", err)
	}
	items := page.Items
	if page.Items == nil {
		o, err := DecodeObject(data)
		if err != nil {
			return nil, err
		}
		items = []Object{o}
	}
	t := ObjectsTable(items)
	t.ResourceVersion, t.Continue = page.Metadata.ResourceVersion, page.Metadata.Continue
	return t, nil
}

// ObjectsTable builds the fallback NAME/AGE table of objects.
func ObjectsTable(items []Object) *metav1.Table {
	t := &metav1.Table{
		TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the object"},
			{Name: "Age", Type: "date", Description: "Time since creation"},
		},
	}
	for _, o := range items {
		t.Rows = append(t.Rows, ObjectRow(o))
	}
	return t
}

// ObjectRow is o's row in an ObjectsTable; its object is o's metadata.
func ObjectRow(o Object) metav1.TableRow {
	meta := Object{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.Map("metadata")}
	raw, _ := json.Marshal(meta)
	return metav1.TableRow{
		Cells:  []any{o.Name(), o.String("metadata", "creationTimestamp")},
		Object: runtime.RawExtension{Raw: raw},
	}
}

// RowObject decodes the object (usually PartialObjectMetadata) of a row.
func RowObject(row metav1.TableRow) Object {
	if len(row.Object.Raw) == 0 {
		return Object{}
	}
	o, err := DecodeObject(row.Object.Raw)
	if err != nil {
		return Object{}
	}
	return o
}
