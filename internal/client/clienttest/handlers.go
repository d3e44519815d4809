package clienttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/kilnbuild/kiln/internal/client"
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/api":
		writeJSON(w, 200, map[string]any{"kind": "APIVersions", "versions": []string{"v1"}})
	case p == "/apis":
		writeJSON(w, 200, s.groupList())
	case p == "/api/v1" || p == "/apis/kiln.dev/v1alpha1":
		writeJSON(w, 200, s.resourceList(strings.TrimPrefix(strings.TrimPrefix(p, "/apis/"), "/api/")))
	case strings.HasPrefix(p, "/api/v1/"):
		s.resource(w, r, "", strings.TrimPrefix(p, "/api/v1/"))
	case strings.HasPrefix(p, "/apis/kiln.dev/v1alpha1/"):
		s.resource(w, r, "kiln.dev", strings.TrimPrefix(p, "/apis/kiln.dev/v1alpha1/"))
	default:
		writeError(w, errorf(404, "NotFound", "the server could not find the requested resource"))
	}
}

func (s *Server) groupList() map[string]any {
	gv := map[string]any{"groupVersion": "kiln.dev/v1alpha1", "version": "v1alpha1"}
	return map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []any{
		map[string]any{"name": "kiln.dev", "versions": []any{gv}, "preferredVersion": gv},
	}}
}

func (s *Server) resourceList(gv string) map[string]any {
	var list []any
	for _, k := range s.kinds {
		if k.GroupVersion() != gv {
			continue
		}
		list = append(list, map[string]any{"name": k.Name, "singularName": k.SingularName,
			"namespaced": k.Namespaced, "kind": k.Kind, "verbs": k.Verbs, "shortNames": k.ShortNames})
		if k.HasStatus {
			list = append(list, map[string]any{"name": k.Name + "/status", "singularName": "",
				"namespaced": k.Namespaced, "kind": k.Kind, "verbs": []string{"get", "patch", "update"}})
		}
	}
	return map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}
}

// target is what a resource URL addresses.
type target struct {
	kind *Kind
	ns   string
	name string
	sub  string
}

func (s *Server) parse(group, rest string) (*target, error) {
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	t := &target{}
	if len(segs) >= 3 && segs[0] == "namespaces" {
		t.ns, segs = segs[1], segs[2:]
	}
	for i := range s.kinds {
		if s.kinds[i].Name == segs[0] && s.kinds[i].Group == group {
			t.kind = &s.kinds[i]
		}
	}
	if t.kind == nil || len(segs) > 3 || (!t.kind.Namespaced && t.ns != "") {
		return nil, errorf(404, "NotFound", "the server could not find the requested resource")
	}
	if len(segs) > 1 {
		t.name = segs[1]
	}
	if len(segs) > 2 {
		t.sub = segs[2]
	}
	return t, nil
}

func (s *Server) resource(w http.ResponseWriter, r *http.Request, group, rest string) {
	t, err := s.parse(group, rest)
	if err != nil {
		writeError(w, err)
		return
	}
	if t.name == "" {
		s.collection(w, r, t)
		return
	}
	var out any
	switch r.Method {
	case http.MethodGet:
		out, err = s.get(t, wantsTable(r))
	case http.MethodPut:
		out, err = s.update(t, r)
	case http.MethodPatch:
		out, err = s.patch(t, r)
	case http.MethodDelete:
		out, err = s.delete(t)
	default:
		err = errorf(405, "MethodNotAllowed", "method %s not allowed", r.Method)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, 200, out)
}

func (s *Server) collection(w http.ResponseWriter, r *http.Request, t *target) {
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
		s.watch(w, r, t)
	case r.Method == http.MethodGet:
		out, err := s.list(t, r)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, 200, out)
	case r.Method == http.MethodPost:
		obj, err := decodeBody(r)
		if err == nil {
			s.mu.Lock()
			obj, err = s.create(t.kind, t.ns, obj)
			s.mu.Unlock()
		}
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, 201, obj)
	default:
		writeError(w, errorf(405, "MethodNotAllowed", "method %s not allowed", r.Method))
	}
}

func wantsTable(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "as=Table")
}

func decodeBody(r *http.Request) (client.Object, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	obj, err := client.DecodeObject(data)
	if err != nil {
		return nil, errorf(400, "BadRequest", "invalid JSON body: %v", err)
	}
	return obj, nil
}

func notFound(k *Kind, name string) error {
	return errorf(404, "NotFound", "%s %q not found", k.GroupResource(), name)
}

func (s *Server) get(t *target, table bool) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj := s.objs[key(t.kind.Name, t.ns, t.name)]
	if obj == nil {
		return nil, notFound(t.kind, t.name)
	}
	if table {
		return s.table(t.kind, []client.Object{obj}, "", obj.ResourceVersion()), nil
	}
	return redacted(obj), nil
}

func (s *Server) create(k *Kind, ns string, obj client.Object) (client.Object, error) {
	if k.Namespaced {
		if obj.Namespace() != "" && ns != "" && obj.Namespace() != ns {
			return nil, errorf(400, "BadRequest", "the namespace of the object (%s) does not match the namespace on the request (%s)", obj.Namespace(), ns)
		}
		if ns == "" {
			ns = obj.Namespace()
		}
		obj.SetNamespace(ns)
	}
	kk := key(k.Name, ns, obj.Name())
	if s.objs[kk] != nil {
		return nil, errorf(409, "AlreadyExists", "%s %q already exists", k.GroupResource(), obj.Name())
	}
	s.seq++
	m := obj.Map("metadata")
	m["uid"] = fmt.Sprintf("uid-%d", s.seq)
	m["creationTimestamp"] = s.now().UTC().Format(time.RFC3339)
	m["generation"] = 1
	delete(m, "resourceVersion")
	if k.HasStatus {
		delete(obj, "status")
	}
	obj.SetAPIVersion(k.GroupVersion())
	obj["kind"] = k.Kind
	s.store(k, kk, obj, "ADDED")
	return redacted(obj), nil
}

// store writes obj (bumping the resourceVersion) and logs the event;
// callers hold mu.
func (s *Server) store(k *Kind, kk string, obj client.Object, typ string) {
	s.rv++
	obj.SetResourceVersion(strconv.FormatInt(s.rv, 10))
	s.objs[kk] = obj
	s.log = append(s.log, event{rv: s.rv, plural: k.Name, typ: typ, obj: redacted(obj)})
	s.notify()
}

func (s *Server) remove(k *Kind, kk string) {
	obj := s.objs[kk]
	delete(s.objs, kk)
	s.rv++
	obj = redacted(obj)
	obj.SetResourceVersion(strconv.FormatInt(s.rv, 10))
	s.log = append(s.log, event{rv: s.rv, plural: k.Name, typ: "DELETED", obj: obj})
	s.notify()
}

func (s *Server) update(t *target, r *http.Request) (any, error) {
	obj, err := decodeBody(r)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replace(t, obj, true)
}

// replace stores obj over the existing object, keeping server-owned
// fields; the resourceVersion only moves when something changed.
func (s *Server) replace(t *target, obj client.Object, needRV bool) (client.Object, error) {
	kk := key(t.kind.Name, t.ns, t.name)
	old := s.objs[kk]
	if old == nil {
		return nil, notFound(t.kind, t.name)
	}
	rv := obj.ResourceVersion()
	if needRV && rv == "" {
		return nil, errorf(422, "Invalid", "metadata.resourceVersion: Invalid value: 0: must be specified for an update")
	}
	if rv != "" && rv != old.ResourceVersion() {
		return nil, errorf(409, "Conflict", "Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", t.kind.GroupResource(), t.name)
	}
	s.keepServerFields(t, old, obj)
	if reflect.DeepEqual(normalize(old), normalize(obj)) {
		return redacted(old), nil
	}
	if !reflect.DeepEqual(normalize(old["spec"]), normalize(obj["spec"])) {
		obj.Map("metadata")["generation"] = old.Int("metadata", "generation") + 1
	}
	s.store(t.kind, kk, obj, "MODIFIED")
	return redacted(obj), nil
}

func (s *Server) keepServerFields(t *target, old, obj client.Object) {
	m := obj.Map("metadata")
	if m == nil {
		m = map[string]any{}
		obj["metadata"] = m
	}
	for _, f := range []string{"uid", "creationTimestamp", "generation", "name", "namespace", "deletionTimestamp"} {
		if v, ok := old.Map("metadata")[f]; ok {
			m[f] = v
		} else {
			delete(m, f)
		}
	}
	m["resourceVersion"] = old.ResourceVersion()
	obj.SetAPIVersion(t.kind.GroupVersion())
	obj["kind"] = t.kind.Kind
	if t.kind.HasStatus {
		if t.sub == "status" {
			obj["spec"] = old["spec"]
		} else if st, ok := old["status"]; ok {
			obj["status"] = st
		} else {
			delete(obj, "status")
		}
	}
}

// normalize round-trips v through JSON so numbers compare alike.
func normalize(v any) any {
	data, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(data, &out)
	return out
}

func (s *Server) patch(t *target, r *http.Request) (any, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.objs[key(t.kind.Name, t.ns, t.name)]
	if old == nil {
		return nil, notFound(t.kind, t.name)
	}
	cur, _ := json.Marshal(old)
	if ct := r.Header.Get("Content-Type"); ct != client.ContentTypeMergePatch {
		return nil, errorf(415, "UnsupportedMediaType", "the fake takes merge patches only, not %s", ct)
	}
	patched, err := jsonpatch.MergePatch(cur, data)
	if err != nil {
		return nil, errorf(400, "BadRequest", "the patch could not be applied: %v", err)
	}
	obj, err := client.DecodeObject(patched)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(data, []byte(`"resourceVersion"`)) {
		obj.SetResourceVersion(old.ResourceVersion())
	}
	return s.replace(t, obj, false)
}

func (s *Server) delete(t *target) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kk := key(t.kind.Name, t.ns, t.name)
	if s.objs[kk] == nil {
		return nil, notFound(t.kind, t.name)
	}
	s.remove(t.kind, kk)
	return map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Success",
		"details": map[string]any{"name": t.name, "kind": t.kind.Name}}, nil
}

func (s *Server) list(t *target, r *http.Request) (any, error) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []client.Object
	for _, o := range s.objs {
		if s.matches(t, o, q.Get("labelSelector"), q.Get("fieldSelector")) {
			items = append(items, redacted(o))
		}
	}
	sort.Slice(items, func(i, j int) bool { return objectKey(items[i]) < objectKey(items[j]) })
	items, cont := page(items, q.Get("limit"), q.Get("continue"))
	rv := strconv.FormatInt(s.rv, 10)
	if wantsTable(r) {
		return s.table(t.kind, items, cont, rv), nil
	}
	if items == nil {
		items = []client.Object{}
	}
	return map[string]any{"kind": t.kind.Kind + "List", "apiVersion": t.kind.GroupVersion(),
		"metadata": map[string]any{"resourceVersion": rv, "continue": cont}, "items": items}, nil
}

func objectKey(o client.Object) string { return o.Namespace() + "/" + o.Name() }

func page(items []client.Object, limit, cont string) ([]client.Object, string) {
	start, _ := strconv.Atoi(cont)
	n, _ := strconv.Atoi(limit)
	if start > len(items) {
		start = len(items)
	}
	items = items[start:]
	if n <= 0 || n >= len(items) {
		return items, ""
	}
	return items[:n], strconv.Itoa(start + n)
}

func (s *Server) matches(t *target, o client.Object, labels, fields string) bool {
	if o.Kind() != t.kind.Kind || (t.ns != "" && o.Namespace() != t.ns) {
		return false
	}
	return matchSelector(labels, func(k string) (string, bool) {
		v, ok := o.Labels()[k]
		return v, ok
	}) && matchSelector(fields, func(k string) (string, bool) {
		v := o.Get(strings.Split(k, ".")...)
		if v == nil {
			return "", false
		}
		return fmt.Sprint(v), true
	})
}

// matchSelector supports k=v, k==v, k!=v, k and !k terms joined by commas.
func matchSelector(sel string, get func(string) (string, bool)) bool {
	for _, term := range strings.Split(sel, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		if k, v, ok := strings.Cut(term, "!="); ok {
			if got, _ := get(k); got == v {
				return false
			}
			continue
		}
		if k, v, ok := strings.Cut(strings.Replace(term, "==", "=", 1), "="); ok {
			if got, has := get(k); !has || got != v {
				return false
			}
			continue
		}
		_, has := get(strings.TrimPrefix(term, "!"))
		if has == strings.HasPrefix(term, "!") {
			return false
		}
	}
	return true
}

func (s *Server) table(k *Kind, items []client.Object, cont, rv string) map[string]any {
	cols := []any{map[string]any{"name": "Name", "type": "string", "format": "name", "description": "Name"}}
	for _, c := range k.Columns {
		cols = append(cols, map[string]any{"name": c.Name, "type": c.Type, "priority": c.Priority})
	}
	cols = append(cols, map[string]any{"name": "Age", "type": "date", "description": "Age"})
	rows := []any{}
	for _, o := range items {
		cells := []any{o.Name()}
		for _, c := range k.Columns {
			cells = append(cells, o.Get(c.Path...))
		}
		cells = append(cells, o.String("metadata", "creationTimestamp"))
		meta := map[string]any{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.Map("metadata")}
		rows = append(rows, map[string]any{"cells": cells, "object": meta})
	}
	return map[string]any{"kind": "Table", "apiVersion": "meta.k8s.io/v1",
		"metadata":          map[string]any{"resourceVersion": rv, "continue": cont},
		"columnDefinitions": cols, "rows": rows}
}

// redacted copies obj, hiding Secret values as the server does.
func redacted(obj client.Object) client.Object {
	out := obj.DeepCopy()
	if out.Kind() == "Secret" {
		for k := range out.Map("data") {
			out.Map("data")[k] = ""
		}
	}
	return out
}
