package apiserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// OpenAPI v3 discovery. kubectl reads it to learn that the server validates
// fields itself (the fieldValidation query parameter on PATCH) and which
// patch types a kind accepts (merge and JSON patch, not strategic merge), and
// `kubectl explain` reads the schemas. Schemas are derived from the Go types
// by reflection, so they cannot drift from what the server decodes.

var (
	openapiOnce sync.Once
	openapiDocs map[string][]byte // "api/v1", "apis/kiln.dev/v1alpha1" → document
)

func buildOpenAPI() {
	openapiDocs = map[string][]byte{}
	byGV := map[string][]*v1alpha1.Kind{}
	for _, k := range v1alpha1.Kinds() {
		if !k.Internal {
			byGV[gvPath(k)] = append(byGV[gvPath(k)], k)
		}
	}
	for gv, kinds := range byGV {
		doc, _ := json.Marshal(gvDocument(kinds))
		openapiDocs[gv] = doc
	}
}

func gvPath(k *v1alpha1.Kind) string {
	if k.Group == "" {
		return "api/" + k.Version
	}
	return "apis/" + k.Group + "/" + k.Version
}

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	openapiOnce.Do(buildOpenAPI)
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/openapi/v3"), "/")
	if !strings.HasPrefix(r.URL.Path, "/openapi/v3") {
		s.writeError(w, r, notFound("only OpenAPI v3 is served: /openapi/v3"))
		return
	}
	if rest == "" {
		paths := map[string]any{}
		for gv, doc := range openapiDocs {
			sum := sha256.Sum256(doc)
			paths[gv] = map[string]string{"serverRelativeURL": "/openapi/v3/" + gv + "?hash=" + strings.ToUpper(hex.EncodeToString(sum[:8]))}
		}
		writeJSON(w, http.StatusOK, map[string]any{"paths": paths})
		return
	}
	doc, ok := openapiDocs[rest]
	if !ok {
		s.writeError(w, r, notFound("no OpenAPI document for "+rest))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
}

// gvDocument is the OpenAPI 3 document of one group/version.
func gvDocument(kinds []*v1alpha1.Kind) map[string]any {
	paths := map[string]any{}
	schemas := map[string]any{}
	for _, k := range kinds {
		gvk := map[string]string{"group": k.Group, "version": k.Version, "kind": k.Kind}
		name := schemaName(k)
		schema := schemaFor(reflect.TypeOf(k.New()).Elem(), 0)
		schema["x-kubernetes-group-version-kind"] = []any{gvk}
		schemas[name] = schema
		paths[itemPath(k)] = itemOperations(k, gvk, name)
	}
	return map[string]any{
		"openapi":    "3.0.0",
		"info":       map[string]string{"title": "Kiln", "version": "v1alpha1"},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas},
	}
}

func schemaName(k *v1alpha1.Kind) string {
	g := k.Group
	if g == "" {
		g = "core"
	}
	return g + "." + k.Version + "." + k.Kind
}

func itemPath(k *v1alpha1.Kind) string {
	p := "/" + gvPath(k) + "/"
	if k.Namespaced {
		p += "namespaces/{namespace}/"
	}
	return p + k.Plural + "/{name}"
}

func itemOperations(k *v1alpha1.Kind, gvk map[string]string, schema string) map[string]any {
	ref := map[string]any{"$ref": "#/components/schemas/" + schema}
	body := func(types ...string) map[string]any {
		content := map[string]any{}
		for _, t := range types {
			content[t] = map[string]any{"schema": ref}
		}
		return map[string]any{"content": content}
	}
	params := []any{
		map[string]any{"name": "fieldValidation", "in": "query", "schema": map[string]string{"type": "string"},
			"description": "Kiln always validates strictly: unknown and duplicate fields are rejected."},
		map[string]any{"name": "dryRun", "in": "query", "schema": map[string]string{"type": "string"}},
	}
	ok := map[string]any{"200": map[string]any{"description": "OK", "content": map[string]any{"application/json": map[string]any{"schema": ref}}}}
	op := func(id string, reqBody map[string]any) map[string]any {
		o := map[string]any{"operationId": id + k.Kind, "x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": ok}
		if reqBody != nil {
			o["requestBody"] = reqBody
		}
		return o
	}
	return map[string]any{
		"get":    op("read", nil),
		"put":    op("replace", body("application/json", "application/yaml")),
		"patch":  op("patch", body("application/merge-patch+json", "application/json-patch+json")),
		"delete": op("delete", nil),
	}
}

// schemaFor derives an OpenAPI schema from a Go type and its json tags.
func schemaFor(t reflect.Type, depth int) map[string]any {
	if depth > 12 {
		return map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.String() {
	case "v1.Time", "*v1.Time":
		return map[string]any{"type": "string", "format": "date-time"}
	case "json.RawMessage", "interface {}":
		return map[string]any{"x-kubernetes-preserve-unknown-fields": true}
	case "intstr.IntOrString", "resource.Quantity":
		return map[string]any{"x-kubernetes-int-or-string": true}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": schemaFor(t.Elem(), depth+1)}
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
		}
		return map[string]any{"type": "object", "additionalProperties": schemaFor(t.Elem(), depth+1)}
	case reflect.Struct:
		return structSchema(t, depth)
	}
	return map[string]any{"x-kubernetes-preserve-unknown-fields": true}
}

func structSchema(t reflect.Type, depth int) map[string]any {
	props := map[string]any{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" && (f.Anonymous || strings.Contains(opts, "inline")) {
			inner := schemaFor(f.Type, depth+1)
			if p, ok := inner["properties"].(map[string]any); ok {
				for k, v := range p {
					props[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaFor(f.Type, depth+1)
	}
	return map[string]any{"type": "object", "properties": props}
}
