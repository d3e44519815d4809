package v1alpha1

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestFieldsDocumented requires a doc comment on every field of every type
// the kinds are made of: the comments are the written schema.
func TestFieldsDocumented(t *testing.T) {
	t.Parallel()
	schema := map[string]bool{}
	for _, k := range Kinds() {
		schemaTypes(reflect.TypeOf(k.New()).Elem(), schema)
	}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if st, isStruct := typeStruct(ts, ok); isStruct && schema[ts.Name.Name] {
				checkFieldDocs(t, fset, ts.Name.Name, st)
			}
			return true
		})
	}
}

// schemaTypes collects the names of this package's struct types reachable
// from t.
func schemaTypes(t reflect.Type, into map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() != reflect.TypeOf(Kind{}).PkgPath() || into[t.Name()] {
		return
	}
	into[t.Name()] = true
	for _, ft := range jsonFields(t).types {
		schemaTypes(ft, into)
	}
}

func typeStruct(ts *ast.TypeSpec, ok bool) (*ast.StructType, bool) {
	if !ok || !ts.Name.IsExported() {
		return nil, false
	}
	st, isStruct := ts.Type.(*ast.StructType)
	return st, isStruct
}

func checkFieldDocs(t *testing.T, fset *token.FileSet, typ string, st *ast.StructType) {
	t.Helper()
	for _, f := range st.Fields.List {
		if len(f.Names) == 0 || f.Names[0].Name == "Spec" || f.Names[0].Name == "Status" {
			continue // embedded TypeMeta/ObjectMeta; Spec and Status are documented by their types
		}
		if f.Doc == nil || strings.TrimSpace(f.Doc.Text()) == "" {
			t.Errorf("%s: field %s.%s has no doc comment", fset.Position(f.Pos()), typ, f.Names[0].Name)
		}
	}
}

// TestResourcesDoc requires docs/resources.md to have a section per kind
// naming every field of the kind's spec and status (and top-level fields of
// Secret).
func TestResourcesDoc(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/resources.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, k := range Kinds() {
		section := strings.ReplaceAll(kindSection(doc, k.Kind), "[]", "")
		if section == "" {
			t.Errorf("docs/resources.md: no \"## %s\" section", k.Kind)
			continue
		}
		for _, f := range documentedFields(reflect.TypeOf(k.New()).Elem(), "") {
			if !strings.Contains(section, "`"+f+"`") {
				t.Errorf("docs/resources.md, %s: field `%s` not described", k.Kind, f)
			}
		}
	}
}

func kindSection(doc, kind string) string {
	re := regexp.MustCompile(`(?m)^## ` + kind + `\b.*$`)
	loc := re.FindStringIndex(doc)
	if loc == nil {
		return ""
	}
	rest := doc[loc[1]:]
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

// documentedFields lists dotted JSON paths of a type's fields, skipping
// metadata, TypeMeta and the insides of Kubernetes types.
func documentedFields(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() != reflect.TypeOf(Kind{}).PkgPath() {
		return nil
	}
	var out []string
	for _, name := range jsonFields(t).names {
		if name == "apiVersion" || name == "kind" && prefix == "" || name == "metadata" {
			continue
		}
		path := strings.TrimPrefix(prefix+"."+name, ".")
		out = append(out, path)
		out = append(out, documentedFields(jsonFields(t).types[name], path)...)
	}
	return out
}
