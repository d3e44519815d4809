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
		return applyJSONPatch(doc, patch)
	}
	return nil, &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: fmt.Sprintf("patch type %q is not supported: use %s or %s (server-side apply is not supported yet; use client-side apply)", patchType, MergePatch, JSONPatch),
	}}
}

// Bounds of a JSON patch: "copy" operations can double a document with
// each operation, so a small patch could otherwise grow an object to
// gigabytes in memory; the operation count is Kubernetes' bound.
const (
	maxPatchOperations = 10000
	maxPatchCopyBytes  = 4 << 20
)

func applyJSONPatch(doc, patch []byte) ([]byte, error) {
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid JSON patch: %v", err))
	}
	if len(p) > maxPatchOperations {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("a JSON patch may have at most %d operations, this one has %d: send several patches", maxPatchOperations, len(p)))
	}
	if err := checkOperations(p); err != nil {
		return nil, err
	}
	return applyOperations(p, doc)
}

// operationMembers are the members RFC 6902 requires besides op and path.
var operationMembers = map[string]string{"add": "value", "replace": "value", "test": "value", "move": "from", "copy": "from", "remove": ""}

// checkOperations rejects operations without the members RFC 6902 requires
// (the library dereferences a missing "value" of a test on the root).
func checkOperations(p jsonpatch.Patch) error {
	for i, op := range p {
		member, known := operationMembers[op.Kind()]
		_, hasPath := op["path"]
		_, hasMember := op[member] // present, even as null
		switch {
		case !known:
			return apierrors.NewBadRequest(fmt.Sprintf("JSON patch operation %d: op %q is not one of add, remove, replace, move, copy, test", i, op.Kind()))
		case !hasPath:
			return apierrors.NewBadRequest(fmt.Sprintf("JSON patch operation %d (%s) has no path", i, op.Kind()))
		case member != "" && !hasMember:
			return apierrors.NewBadRequest(fmt.Sprintf("JSON patch operation %d (%s) has no %s", i, op.Kind(), member))
		}
	}
	return nil
}

// applyOperations applies a checked patch; a panic in the library on an
// input it does not expect is the client's malformed patch, not a crash.
func applyOperations(p jsonpatch.Patch, doc []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, apierrors.NewBadRequest(fmt.Sprintf("applying JSON patch: the patch cannot be applied (%v)", r))
		}
	}()
	opts := jsonpatch.NewApplyOptions()
	opts.AccumulatedCopySizeLimit = maxPatchCopyBytes
	out, err = p.ApplyWithOptions(doc, opts)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("applying JSON patch: %v", err))
	}
	return out, nil
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
