package client_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/kilnbuild/kiln/internal/client"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// isolate points every lookup location into fresh temp dirs.
func isolate(t *testing.T) (cwd, xdg string) {
	cwd, xdg = t.TempDir(), t.TempDir()
	t.Chdir(cwd)
	t.Setenv("XDG_CONFIG_HOME", xdg)
	t.Setenv(client.EnvConfig, "")
	return cwd, xdg
}

func TestFindConfigOrder(t *testing.T) {
	cwd, xdg := isolate(t)
	env := filepath.Join(t.TempDir(), "env.yaml")
	explicit := filepath.Join(t.TempDir(), "explicit.yaml")
	writeFile(t, filepath.Join(xdg, "kiln", "config.yaml"), "server: http://xdg\n")
	writeFile(t, filepath.Join(cwd, ".kiln", "client.yaml"), "server: http://local/\ntoken: t\nnamespace: ns1\n")
	writeFile(t, env, "server: http://env\n")
	writeFile(t, explicit, "server: http://explicit\n")

	check := func(flag, wantServer string) {
		t.Helper()
		cfg, _, err := client.FindConfig(flag)
		if err != nil {
			t.Fatalf("FindConfig(%q): %v", flag, err)
		}
		if cfg.Server != wantServer {
			t.Errorf("FindConfig(%q) server = %q, want %q", flag, cfg.Server, wantServer)
		}
	}
	check(explicit, "http://explicit")
	check("", "http://local") // trailing slash trimmed
	t.Setenv(client.EnvConfig, env)
	check("", "http://env")
	t.Setenv(client.EnvConfig, "")
	if err := os.Remove(filepath.Join(cwd, ".kiln", "client.yaml")); err != nil {
		t.Fatal(err)
	}
	check("", "http://xdg")
}

func TestFindConfigMissing(t *testing.T) {
	isolate(t)
	_, _, err := client.FindConfig("")
	if !errors.Is(err, client.ErrNoConfig) {
		t.Fatalf("err = %v, want ErrNoConfig", err)
	}
	_, _, err = client.FindConfig(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("explicit missing: err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadConfigRejectsUnknownKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, p, "server: http://x\nsever: oops\n")
	if _, err := client.LoadConfig(p); err == nil {
		t.Fatal("want an error for an unknown key")
	}
}

func TestWriteConfigRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "config.yaml")
	want := &client.Config{Server: "http://127.0.0.1:7070", Token: "kiln_x", Namespace: "team-a"}
	if err := client.WriteConfig(p, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	got, err := client.LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Server != want.Server || got.Token != want.Token || got.Namespace != want.Namespace {
		t.Errorf("got %+v, want %+v", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestDefaultConfigPaths(t *testing.T) {
	isolate(t)
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	t.Setenv(client.EnvConfig, "/env.yaml")
	got := client.DefaultConfigPaths()
	want := []string{"/env.yaml", filepath.Join(".kiln", "client.yaml"), "/xdg/kiln/config.yaml"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("path %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestLoadConfigFindsKilnUpCA(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "tls", "ca.crt"), "pem")
	writeFile(t, filepath.Join(dir, "client.yaml"), "server: https://127.0.0.1:7070\n")
	cfg, err := client.LoadConfig(filepath.Join(dir, "client.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "tls", "ca.crt"); cfg.CertificateAuthority != want {
		t.Errorf("CertificateAuthority = %q, want %q", cfg.CertificateAuthority, want)
	}
	// a relative path is relative to the config file
	writeFile(t, filepath.Join(dir, "client.yaml"), "server: https://x\ncertificateAuthority: my/ca.pem\n")
	cfg, _ = client.LoadConfig(filepath.Join(dir, "client.yaml"))
	if want := filepath.Join(dir, "my", "ca.pem"); cfg.CertificateAuthority != want {
		t.Errorf("relative CertificateAuthority = %q, want %q", cfg.CertificateAuthority, want)
	}
}
