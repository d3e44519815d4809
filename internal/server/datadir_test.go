package server

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestDataDirPrivate: a data directory left readable by other users (an
// older Kiln, a restored backup) is narrowed when the server starts: every
// subdirectory 0700, keys and certificates 0600, the database and the
// client config 0600; what is missing is created 0700.
func TestDataDirPrivate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, d := range []string{"keys", "tls", "logs", "work", "evidence"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"keys/secret.key", "tls/ca.key", "tls/ca.crt", "logs/build.log", "kiln.db", ClientConfigName} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := secureDataDir(dir); err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{"keys/secret.key": 0o600, "tls/ca.key": 0o600, "tls/ca.crt": 0o600,
		"kiln.db": 0o600, ClientConfigName: 0o600, "logs/build.log": 0o644}
	for _, d := range privateDirs {
		want[d] = fs.ModeDir | 0o700
	}
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), mode)
		}
	}
}

// TestStartMakesDataDirPrivate: Start narrows an existing data directory
// before anything else uses it.
func TestStartMakesDataDirPrivate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", "secret.key"), []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testFactory(t, dir)
	for name, mode := range map[string]fs.FileMode{"keys": fs.ModeDir | 0o700, "keys/secret.key": 0o600,
		"kiln.db": 0o600, ClientConfigName: 0o600, "work": fs.ModeDir | 0o700, "step-images": fs.ModeDir | 0o700} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), mode)
		}
	}
}
