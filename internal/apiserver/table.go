package apiserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// wantsTable reports whether the client asked for a meta.k8s.io Table.
func wantsTable(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "as=Table")
}

// table renders objects as a Table with NAME, the kind's columns and AGE.
func (s *Server) table(k *v1alpha1.Kind, objs []v1alpha1.Object, cont, rv string, withDefs bool) *metav1.Table {
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ListMeta: metav1.ListMeta{Continue: cont, ResourceVersion: rv}, Rows: []metav1.TableRow{}}
	if withDefs {
		t.ColumnDefinitions = columnDefs(k)
	}
	now := time.Now()
	for _, o := range objs {
		t.Rows = append(t.Rows, tableRow(k, o, now))
	}
	return t
}

func columnDefs(k *v1alpha1.Kind) []metav1.TableColumnDefinition {
	defs := []metav1.TableColumnDefinition{{Name: "Name", Type: "string", Format: "name", Description: "Name of the object"}}
	for _, c := range k.Columns {
		defs = append(defs, metav1.TableColumnDefinition{Name: c.Name, Type: c.Type, Priority: int32(c.Priority)})
	}
	return append(defs, metav1.TableColumnDefinition{Name: "Age", Type: "date", Description: "Time since creation"})
}

func tableRow(k *v1alpha1.Kind, o v1alpha1.Object, now time.Time) metav1.TableRow {
	cells := []any{o.GetName()}
	for _, c := range k.Columns {
		cells = append(cells, c.Value(o))
	}
	cells = append(cells, age(o.GetCreationTimestamp().Time, now))
	pm := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"}}
	pm.ObjectMeta = metav1.ObjectMeta{
		Name: o.GetName(), Namespace: o.GetNamespace(), UID: o.GetUID(), ResourceVersion: o.GetResourceVersion(),
		CreationTimestamp: o.GetCreationTimestamp(), Labels: o.GetLabels(), DeletionTimestamp: o.GetDeletionTimestamp(),
		Generation: o.GetGeneration(),
	}
	raw, _ := json.Marshal(pm)
	return metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Raw: raw}}
}

func age(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}
