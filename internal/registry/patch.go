package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// Patch types accepted by Patch.
const (
	MergePatch     = "application/merge-patch+json"
	JSONPatch      = "application/json-patch+json"
	StrategicPatch = "application/strategic-merge-patch+json"
)

// Patch applies a JSON merge patch (RFC 7386) or JSON patch (RFC 6902),
// written in JSON or YAML, to the stored object and writes the result. The
// patch is read as strictly as an object: a key given twice is an error. A strategic merge patch (what kubectl
// sends for core kinds) is applied as a merge patch after its directives are
// dropped; Kiln's core kinds have no merge-keyed lists.
func (r *Registry) Patch(ctx context.Context, k *v1alpha1.Kind, ns, name, patchType string, patch []byte, opts UpdateOptions) (v1alpha1.Object, error) {
	for attempt := 0; ; attempt++ {
		out, err := r.patchOnce(ctx, k, ns, name, patchType, patch, opts)
		if apierrors.IsConflict(err) && attempt < 5 && !patchHasRV(patch) {
			continue
		}
		return out, err
	}
}

func (r *Registry) patchOnce(ctx context.Context, k *v1alpha1.Kind, ns, name, patchType string, patch []byte, opts UpdateOptions) (v1alpha1.Object, error) {
	cur, err := r.Get(ctx, k, ns, name, GetOptions{Reveal: true})
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(cur)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	patched, err := applyPatch(patchType, doc, patch)
	if err != nil {
		return nil, err
	}
	obj, err := decodePatched(k, patched)
	if err != nil {
		return nil, err
	}
	if obj.GetName() != name || (k.Namespaced && obj.GetNamespace() != ns) {
		return nil, apierrors.NewBadRequest("a patch cannot change metadata.name or metadata.namespace")
	}
	if opts.Admit != nil {
		if err := opts.Admit(cur, obj); err != nil {
			return nil, err
		}
	}
	if obj.GetResourceVersion() == "" {
		obj.SetResourceVersion(cur.GetResourceVersion())
	}
	next, err := r.nextVersion(ctx, k, cur, obj, opts)
	if err != nil {
		return nil, err
	}
	if obj.GetResourceVersion() != cur.GetResourceVersion() {
		return nil, r.storeErr(k, name, errConflict)
	}
	return r.commitUpdate(ctx, k, cur, next)
}

func applyPatch(patchType string, doc, patch []byte) ([]byte, error) {
	patch, err := v1alpha1.StrictJSON(patch)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid patch: %v", err))
	}
	switch strings.TrimSpace(strings.Split(patchType, ";")[0]) {
	case MergePatch:
		return mergePatch(doc, patch)
	case StrategicPatch:
		return mergePatch(doc, stripDirectives(patch))
	case JSONPatch:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid JSON patch: %v", err))
		}
		out, err := p.Apply(doc)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("applying JSON patch: %v", err))
		}
		return out, nil
	}
	return nil, &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: fmt.Sprintf("patch type %q is not supported: use %s or %s (server-side apply is not supported yet; use client-side apply)", patchType, MergePatch, JSONPatch),
	}}
}

func mergePatch(doc, patch []byte) ([]byte, error) {
	out, err := jsonpatch.MergePatch(doc, patch)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid merge patch: %v", err))
	}
	return out, nil
}

// stripDirectives removes strategic-merge-patch "$..." keys.
func stripDirectives(patch []byte) []byte {
	var v any
	if json.Unmarshal(patch, &v) != nil {
		return patch
	}
	out, _ := json.Marshal(dropDollarKeys(v))
	return out
}

func dropDollarKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for key, val := range t {
			if strings.HasPrefix(key, "$") {
				delete(t, key)
				continue
			}
			t[key] = dropDollarKeys(val)
		}
	case []any:
		for i := range t {
			t[i] = dropDollarKeys(t[i])
		}
	}
	return v
}

func patchHasRV(patch []byte) bool {
	return strings.Contains(string(patch), `"resourceVersion"`)
}

// decodePatched strictly decodes a patched document of kind k.
func decodePatched(k *v1alpha1.Kind, doc []byte) (v1alpha1.Object, error) {
	obj, dk, err := v1alpha1.Decode(doc)
	if err != nil {
		return nil, DecodeError(err)
	}
	if dk.Kind != k.Kind {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("a patch cannot change kind %s to %s", k.Kind, dk.Kind))
	}
	return obj, nil
}
