package registry

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/store"
)

// ListOptions select objects of one kind.
type ListOptions struct {
	// Namespace restricts to one namespace ("" = all).
	Namespace string
	// Namespaces, when non-nil, restricts to a set (authorisation filter).
	Namespaces    []string
	LabelSelector string
	FieldSelector string
	Limit         int
	Continue      string
}

// ListResult is one page of objects.
type ListResult struct {
	Items           []v1alpha1.Object
	Continue        string
	ResourceVersion int64
}

// List returns one page of objects.
func (r *Registry) List(ctx context.Context, k *v1alpha1.Kind, opts ListOptions) (*ListResult, error) {
	f, err := r.Filter(k, opts)
	if err != nil {
		return nil, err
	}
	res, err := r.store.List(ctx, store.ListOptions{Filter: f, Limit: opts.Limit, Continue: opts.Continue})
	if err != nil {
		return nil, r.storeErr(k, "", err)
	}
	out := &ListResult{Continue: res.Continue, ResourceVersion: res.ResourceVersion, Items: make([]v1alpha1.Object, 0, len(res.Items))}
	for _, rec := range res.Items {
		obj, err := r.fromRecord(k, rec, false)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		out.Items = append(out.Items, obj)
	}
	return out, nil
}

// Watch starts a store watch for objects of one kind after sinceRV.
func (r *Registry) Watch(ctx context.Context, k *v1alpha1.Kind, opts ListOptions, sinceRV int64) (store.Watcher, error) {
	f, err := r.Filter(k, opts)
	if err != nil {
		return nil, err
	}
	w, err := r.store.Watch(ctx, store.WatchOptions{Filter: f, SinceRV: sinceRV})
	if err != nil {
		return nil, r.storeErr(k, "", err)
	}
	return w, nil
}

// Filter parses selectors into a store filter.
func (r *Registry) Filter(k *v1alpha1.Kind, opts ListOptions) (store.Filter, error) {
	f := store.Filter{Kind: k.Kind, Namespaces: opts.Namespaces}
	if k.Namespaced {
		f.Namespace = opts.Namespace
	}
	var err error
	if f.Labels, err = labelRequirements(opts.LabelSelector); err != nil {
		return f, err
	}
	f.Fields, err = fieldRequirements(k, opts.FieldSelector)
	return f, err
}

func labelRequirements(sel string) ([]store.Requirement, error) {
	if strings.TrimSpace(sel) == "" {
		return nil, nil
	}
	parsed, err := labels.Parse(sel)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("labelSelector %q: %v — examples: app=greet, tier in (a,b), !legacy", sel, err))
	}
	reqs, _ := parsed.Requirements()
	out := make([]store.Requirement, 0, len(reqs))
	for _, req := range reqs {
		op, ok := labelOps[req.Operator()]
		if !ok {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("labelSelector %q: operator %q is not supported", sel, req.Operator()))
		}
		out = append(out, store.Requirement{Key: req.Key(), Operator: op, Values: sortedValues(req.Values().List())})
	}
	return out, nil
}

var labelOps = map[selection.Operator]store.Operator{
	selection.Equals: store.OpEquals, selection.DoubleEquals: store.OpEquals,
	selection.NotEquals: store.OpNotEquals, selection.In: store.OpIn, selection.NotIn: store.OpNotIn,
	selection.Exists: store.OpExists, selection.DoesNotExist: store.OpDoesNotExist,
}

func sortedValues(v []string) []string { sort.Strings(v); return v }

// fieldRequirements parses a field selector, accepting metadata.name,
// metadata.namespace and the kind's indexed fields.
func fieldRequirements(k *v1alpha1.Kind, sel string) ([]store.Requirement, error) {
	if strings.TrimSpace(sel) == "" {
		return nil, nil
	}
	parsed, err := fields.ParseSelector(sel)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector %q: %v", sel, err))
	}
	supported := SelectableFields(k)
	var out []store.Requirement
	for _, req := range parsed.Requirements() {
		if !containsString(supported, req.Field) {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector: field %q is not supported for %s; supported: %s",
				req.Field, k.Plural, strings.Join(supported, ", ")))
		}
		op := store.OpEquals
		if req.Operator == selection.NotEquals {
			op = store.OpNotEquals
		}
		out = append(out, store.Requirement{Key: req.Field, Operator: op, Values: []string{req.Value}})
	}
	return out, nil
}

// SelectableFields lists the field selector keys a kind supports.
func SelectableFields(k *v1alpha1.Kind) []string {
	keys := []string{"metadata.name"}
	if k.Namespaced {
		keys = append(keys, "metadata.namespace")
	}
	if k.Fields != nil {
		var extra []string
		for key := range k.Fields(k.New()) {
			extra = append(extra, key)
		}
		sort.Strings(extra)
		keys = append(keys, extra...)
	}
	return keys
}
