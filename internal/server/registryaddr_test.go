package server

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestMovedRegistryRemembersEveryAddress(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "registry-addresses")
	steps := []struct {
		addr string
		want []string
	}{
		{"127.0.0.1:8443", nil},
		{"127.0.0.1:8443", nil},
		{"127.0.0.1:9000", []string{"127.0.0.1:8443"}},
		{"127.0.0.1:8443", []string{"127.0.0.1:9000"}},
		{"kiln.example.org:443", []string{"127.0.0.1:8443", "127.0.0.1:9000"}},
	}
	for _, s := range steps {
		got, err := movedRegistry(path, s.addr)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, s.want) {
			t.Errorf("at %s: moved %v, want %v", s.addr, got, s.want)
		}
	}
	data, _ := os.ReadFile(path)
	if string(data) != "127.0.0.1:8443\n127.0.0.1:9000\nkiln.example.org:443\n" {
		t.Errorf("file:\n%s", data)
	}
	if _, err := movedRegistry(filepath.Join(t.TempDir(), "missing", "registry-addresses"), "a:1"); err == nil {
		t.Error("an unwritable place: no error")
	}
}
