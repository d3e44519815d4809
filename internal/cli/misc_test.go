package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/apiserver/apitest"
	"github.com/kilnbuild/kiln/internal/auth"
	"github.com/kilnbuild/kiln/internal/client"
)

func TestCreateNamespace(t *testing.T) {
	isolate(t)
	srv := newServer(t)
	r := kiln(t, srv, "", "create", "namespace", "releng", "--type", "managed").must(t)
	if r.out != "namespace/releng created\n" {
		t.Fatalf("printed %q", r.out)
	}
	if got := srv.Object(t, "namespaces", "", "releng").String("spec", "type"); got != "managed" {
		t.Fatalf("type = %q", got)
	}
	r = kiln(t, srv, "", "create", "ns", "releng")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "Error from server (AlreadyExists)") {
		t.Fatalf("second create: %v", r.code)
	}
	r = kiln(t, srv, "", "create", "namespace", "x", "--type", "weird")
	if r.code == nil || !strings.Contains(r.code.Error(), "use tenant or managed") {
		t.Fatalf("bad type: %v", r.code)
	}
}

// withToken is srv as the holder of token.
func withToken(srv endpoint, token string) endpoint {
	cfg := srv.ClientConfig()
	cfg.Token = token
	return configured{cfg}
}

type configured struct{ cfg *client.Config }

func (c configured) ClientConfig() *client.Config { return c.cfg }

func TestTokenLifecycle(t *testing.T) {
	isolate(t)
	srv := newServer(t, "team-a")
	srv.Seed(t, obj("kiln.dev/v1alpha1", "ServiceAccount", "team-a", "ci", nil))
	const ci = "system:serviceaccount:team-a:ci"
	r := kiln(t, srv, "", "token", "create", "--for", ci, "--description", "ci", "--expires", "720h").must(t)
	token, _ := strings.CutSuffix(r.out, "\n")
	name, _, ok := auth.ParseToken(token)
	if !ok {
		t.Fatalf("stdout %q, want the token alone", r.out)
	}
	if !strings.Contains(r.err, "shown only once") || !strings.Contains(r.err, name) {
		t.Fatalf("stderr %q lacks the warning", r.err)
	}
	if n := srv.CountRequests("POST", "/apis/kiln.dev/v1alpha1/tokenrequests"); n != 1 {
		t.Fatalf("%d token requests sent, want 1", n)
	}
	if who := kiln(t, withToken(srv, token), "", "whoami").must(t).out; !strings.Contains(who, ci) {
		t.Fatalf("the new token is not the service account's: %q", who)
	}
	kiln(t, srv, "", "token", "create").must(t)
	list := kiln(t, srv, "", "token", "list").must(t).out
	row := regexp.MustCompile(`(?m)^` + name + ` +` + ci + ` +ci +\d{4}-\d\d-\d\d \d\d:\d\d +`)
	admins := regexp.MustCompile(`(?m)^tok-\w+ +admin +`).FindAllString(list, -1)
	if !strings.HasPrefix(list, "NAME ") || !row.MatchString(list) || len(admins) != 2 {
		t.Fatalf("token list lacks the service account's token or the admin's two:\n%s", list)
	}
	r = kiln(t, srv, "", "token", "revoke", name).must(t)
	if r.out != fmt.Sprintf("token %q revoked\n", name) || srv.Object(t, "tokens", "", name) != nil {
		t.Fatalf("revoke: %q", r.out)
	}
	if r := kiln(t, withToken(srv, token), "", "whoami"); !errors.Is(r.code, client.ErrUnauthorized) {
		t.Fatalf("a revoked token still works: %v", r.code)
	}
	r = kiln(t, srv, "", "token", "create", "--expires", "soon")
	if r.code == nil || !strings.Contains(r.code.Error(), "720h") {
		t.Fatalf("bad --expires: %v", r.code)
	}
}

func TestKubeconfig(t *testing.T) {
	dir := isolate(t)
	r := kiln(t, nil, "", "kubeconfig", "--server", "http://kiln.example:7070", "--token", "kiln_abc", "-n", "team-a").must(t)
	checkGolden(t, "kubeconfig", r.out)
	out := filepath.Join(dir, "kc.yaml")
	kiln(t, nil, "", "kubeconfig", "--server", "http://kiln.example:7070", "--token", "kiln_abc", "-n", "team-a", "-o", out).must(t)
	data, err := os.ReadFile(out)
	if err != nil || string(data) != r.out {
		t.Fatalf("file: %v\n%s", err, data)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
}

func TestWhoami(t *testing.T) {
	isolate(t)
	srv := newServer(t, "team-a")
	srv.Seed(t, obj("v1", "Namespace", "", "team-b", map[string]any{"spec": map[string]any{"type": "managed"}}))
	for ns, roles := range map[string][]string{"team-a": {"admin"}, "team-b": {"viewer", "releaser"}} {
		for i, role := range roles {
			srv.Seed(t, obj("kiln.dev/v1alpha1", "RoleBinding", ns, fmt.Sprintf("alice-%d", i), map[string]any{
				"spec": map[string]any{"role": role, "subjects": []any{map[string]any{"kind": "User", "name": "alice"}}}}))
		}
	}
	alice := withToken(srv, srv.UserToken(t, "alice"))
	checkGolden(t, "whoami", kiln(t, alice, "", "whoami").must(t).out)
}

func TestVersion(t *testing.T) {
	isolate(t)
	srv := newServer(t)
	cfg := srv.ClientConfig()
	root := NewRootCommand(testOptions(WithVersion("v9.9.9"))...)
	root.SetArgs([]string{"--server", cfg.Server, "--token", cfg.Token, "version"})
	var out strings.Builder
	root.SetOut(&out)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "Client Version: v9.9.9\nServer Version: "+apitest.Version+"\n" {
		t.Fatalf("printed %q", out.String())
	}
}

func TestMissingConfigError(t *testing.T) {
	isolate(t)
	r := kiln(t, nil, "", "get", "components")
	if r.code == nil || !strings.Contains(r.code.Error(), "no Kiln server configured: start one with `kiln up`") {
		t.Fatalf("err = %v", r.code)
	}
}

func TestUnauthorizedHint(t *testing.T) {
	isolate(t)
	srv := newServer(t)
	r := kiln(t, nil, "", "get", "components", "--server", srv.URL, "--token", "wrong")
	if r.code == nil || !strings.Contains(r.code.Error(), "Error from server (Unauthorized)") || !strings.Contains(r.code.Error(), "kiln config set-token") {
		t.Fatalf("err = %v", r.code)
	}
}

func TestConfigCommands(t *testing.T) {
	dir := isolate(t)
	srv := newServer(t, "team-a")
	// no config yet: set-server creates the user config
	r := kiln(t, nil, "", "config", "set-server", srv.URL).must(t)
	userCfg := filepath.Join(dir, "xdg", "kiln", "config.yaml")
	if !strings.Contains(r.out, userCfg) {
		t.Fatalf("set-server wrote elsewhere: %q", r.out)
	}
	kiln(t, nil, "", "config", "set-token", srv.AdminToken).must(t)
	kiln(t, nil, "", "config", "set-namespace", "team-a").must(t)
	cfg, err := client.LoadConfig(userCfg)
	if err != nil || cfg.Server != srv.URL || cfg.Token != srv.AdminToken || cfg.Namespace != "team-a" {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	r = kiln(t, nil, "", "config", "view").must(t)
	want := "# " + userCfg + "\nnamespace: team-a\nserver: " + srv.URL + "\ntoken: REDACTED\n"
	if r.out != want {
		t.Fatalf("view:\n%s\nwant:\n%s", r.out, want)
	}
	// ./.kiln/client.yaml (written by kiln up) wins over the user config
	writeFile(t, dir, ".kiln/client.yaml", "server: http://local:1\n")
	r = kiln(t, nil, "", "config", "view", "--raw").must(t)
	if !strings.Contains(r.out, "server: http://local:1") || !strings.Contains(r.out, "namespace: default") {
		t.Fatalf("view with a local config: %q", r.out)
	}
	r = kiln(t, nil, "", "config", "set-server", "localhost:7070")
	if r.code == nil || !strings.Contains(r.code.Error(), "https://127.0.0.1:7070") {
		t.Fatalf("bad URL: %v", r.code)
	}
	// the namespace from the config is used
	srv.Seed(t, application("team-a", "shop"))
	if err := os.Remove(filepath.Join(dir, ".kiln", "client.yaml")); err != nil {
		t.Fatal(err)
	}
	r = kiln(t, nil, "", "get", "apps", "-o", "name").must(t)
	if r.out != "application.kiln.dev/shop\n" {
		t.Fatalf("get in the config's namespace: %q", r.out)
	}
}

func TestAPIResources(t *testing.T) {
	isolate(t)
	checkGolden(t, "api_resources", kiln(t, newServer(t), "", "api-resources").must(t).out)
}

func TestKubeconfigCarriesCA(t *testing.T) {
	dir := isolate(t)
	writeFile(t, dir, ".kiln/tls/ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	writeFile(t, dir, ".kiln/client.yaml", "server: https://127.0.0.1:7070\ntoken: kiln_abc\nnamespace: default\n")
	checkGolden(t, "kubeconfig_ca", kiln(t, nil, "", "kubeconfig").must(t).out)
}

func TestVerboseLogsRequests(t *testing.T) {
	isolate(t)
	srv := newServer(t)
	r := kiln(t, srv, "", "get", "ns", "-v").must(t)
	if !strings.Contains(r.err, "GET "+srv.URL+"/api 200 OK in ") {
		t.Fatalf("stderr %q lacks the request log", r.err)
	}
}

func TestTokenCreateWorker(t *testing.T) {
	isolate(t)
	srv := newServer(t)
	kiln(t, srv, "", "token", "create", "--worker", "builder-7", "--platform", "linux/arm64").must(t)
	if r := kiln(t, srv, "", "token", "list").must(t); !strings.Contains(r.out, "system:worker:builder-7") {
		t.Fatalf("no worker token among\n%s", r.out)
	}
	for _, args := range [][]string{
		{"token", "create", "--worker", "w", "--for", "alice"},
		{"token", "create", "--platform", "linux/arm64"},
	} {
		if r := kiln(t, srv, "", args...); r.code == nil {
			t.Errorf("kiln %v succeeded", args)
		}
	}
}
