package registry

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/store"
)

// secretKind is the kind whose values are sealed at rest.
const secretKind = "Secret"

// toRecord turns an object into a store record: the document without its
// resourceVersion (the store owns that), indexed labels, fields and owners,
// and Secret values sealed.
func (r *Registry) toRecord(k *v1alpha1.Kind, obj v1alpha1.Object) (*store.Object, error) {
	rv := obj.GetResourceVersion()
	obj.SetResourceVersion("")
	obj.SetManagedFields(nil)
	data, err := json.Marshal(obj)
	obj.SetResourceVersion(rv)
	if err != nil {
		return nil, fmt.Errorf("encoding %s %q: %w", k.Kind, obj.GetName(), err)
	}
	if k.Kind == secretKind {
		if data, err = r.sealSecret(obj.GetNamespace(), obj.GetName(), data); err != nil {
			return nil, err
		}
	}
	rec := &store.Object{
		Kind: k.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(),
		UID: string(obj.GetUID()), Labels: obj.GetLabels(), Data: data,
	}
	rec.ResourceVersion, _ = strconv.ParseInt(rv, 10, 64)
	if k.Fields != nil {
		rec.Fields = k.Fields(obj)
	}
	for _, o := range obj.GetOwnerReferences() {
		rec.OwnerUIDs = append(rec.OwnerUIDs, string(o.UID))
	}
	return rec, nil
}

// fromRecord decodes a store record. Secret values are revealed only when
// reveal is set; otherwise they come back empty.
func (r *Registry) fromRecord(k *v1alpha1.Kind, rec *store.Object, reveal bool) (v1alpha1.Object, error) {
	data := rec.Data
	if k.Kind == secretKind {
		var err error
		if data, err = r.openSecret(rec.Namespace, rec.Name, data, reveal); err != nil {
			return nil, err
		}
	}
	obj := k.New()
	if err := json.Unmarshal(data, obj); err != nil {
		return nil, fmt.Errorf("decoding stored %s: %w", rec.Key(), err)
	}
	obj.SetResourceVersion(strconv.FormatInt(rec.ResourceVersion, 10))
	obj.GetObjectKind().SetGroupVersionKind(k.GVK())
	return obj, nil
}

func sealContext(ns, name, key string) string { return ns + "/" + name + "/" + key }

// sealSecret replaces each value of the document's "data" map by its sealed
// form.
func (r *Registry) sealSecret(ns, name string, doc []byte) ([]byte, error) {
	return r.mapSecretData(doc, func(key string, v []byte) ([]byte, error) {
		return r.sealer.Seal(sealContext(ns, name, key), v)
	})
}

func (r *Registry) openSecret(ns, name string, doc []byte, reveal bool) ([]byte, error) {
	return r.mapSecretData(doc, func(key string, v []byte) ([]byte, error) {
		if !reveal {
			return []byte{}, nil
		}
		return r.sealer.Open(sealContext(ns, name, key), v)
	})
}

func (r *Registry) mapSecretData(doc []byte, fn func(string, []byte) ([]byte, error)) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("decoding secret: %w", err)
	}
	data, _ := m["data"].(map[string]any)
	for key, v := range data {
		s, _ := v.(string)
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("secret value %q is not base64: %w", key, err)
		}
		out, err := fn(key, raw)
		if err != nil {
			return nil, err
		}
		data[key] = base64.StdEncoding.EncodeToString(out)
	}
	return json.Marshal(m)
}
