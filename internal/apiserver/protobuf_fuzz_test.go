package apiserver

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kilnbuild/kiln/api/v1alpha1"
)

// protobufBody wraps obj as kubectl sends it.
func protobufBody(tb testing.TB, kind string, obj interface{ Marshal() ([]byte, error) }) []byte {
	tb.Helper()
	raw, err := obj.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	u := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: "v1", Kind: kind}, Raw: raw, ContentType: "application/vnd.kubernetes.protobuf"}
	env, err := u.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return append(append([]byte{}, protobufMagic...), env...)
}

// FuzzProtobufToJSON: a protobuf body from a client (kubectl sends them for
// Namespace and Secret) converts to a JSON document of one of those kinds,
// which decodes or fails as a *DecodeError, or is refused with an error;
// it never panics.
func FuzzProtobufToJSON(f *testing.F) {
	f.Add(protobufBody(f, "Namespace", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"a": "b"}}}))
	f.Add(protobufBody(f, "Secret", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Data: map[string][]byte{"k": []byte("v")}, Type: "Opaque"}))
	f.Add(protobufBody(f, "ConfigMap", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}))
	f.Fuzz(func(t *testing.T, body []byte) {
		js, err := protobufToJSON(body)
		if err != nil {
			return
		}
		obj, k, err := v1alpha1.Decode(js)
		var de *v1alpha1.DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("converted body %s: %v (%T)", js, err, err)
		}
		if err == nil && k.Kind != "Namespace" && k.Kind != "Secret" {
			t.Fatalf("protobuf produced a %s: %+v", k.Kind, obj)
		}
	})
}
