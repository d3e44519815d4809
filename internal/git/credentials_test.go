package git

import (
	"errors"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

const token = "ghp_s3cr3tT0k3n"

// TestTokenNeverInArgs checks the command git is started with: the token
// is in one environment variable only, never in argv, the URL or the
// askpass helper.
func TestTokenNeverInArgs(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	r, err := newRunner("https://example.com/a/b.git", Options{Home: home, Credentials: Credentials{Token: token}})
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := r.command(ctx, "", "ls-remote", "--", r.url, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cmd.Args {
		if strings.Contains(a, token) {
			t.Errorf("token in argument %q", a)
		}
	}
	var holders []string
	for _, e := range cmd.Env {
		if strings.Contains(e, token) {
			holders = append(holders, e)
		}
	}
	if want := []string{envAskPass + "=" + token}; !slices.Equal(holders, want) {
		t.Errorf("token in environment entries %q; want only %q", holders, want)
	}
	helper := filepath.Join(home, "askpass.sh")
	if !slices.Contains(cmd.Env, "GIT_ASKPASS="+helper) || !slices.Contains(cmd.Env, envAskUser+"=x-access-token") {
		t.Errorf("environment lacks the askpass helper: %q", cmd.Env)
	}
	if b, err := os.ReadFile(helper); err != nil || strings.Contains(string(b), token) {
		t.Errorf("askpass helper: %v, holds token: %v", err, strings.Contains(string(b), token))
	}
}

func TestTokenOnlyForHTTP(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"git@example.com:a/b.git", "ssh://git@example.com/a/b.git", "file:///srv/a"} {
		r, err := newRunner(u, Options{Home: t.TempDir(), Credentials: Credentials{Token: token}})
		if err != nil {
			t.Fatal(err)
		}
		env, _ := r.env()
		if strings.Contains(strings.Join(env, "\n"), token) {
			t.Errorf("%s: token in environment", u)
		}
	}
}

func TestMinimalEnvironment(t *testing.T) {
	t.Setenv("GIT_DIR", "/elsewhere")
	t.Setenv("KILN_SECRET", "leak")
	t.Setenv("SSH_AUTH_SOCK", "/agent")
	t.Setenv("HTTPS_PROXY", "http://proxy:3128")
	home := t.TempDir()
	r, err := newRunner("https://example.com/a", Options{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	env, _ := r.env()
	joined := "\n" + strings.Join(env, "\n") + "\n"
	for _, bad := range []string{"GIT_DIR=", "KILN_SECRET=", "SSH_AUTH_SOCK=", "GIT_ASKPASS="} {
		if strings.Contains(joined, "\n"+bad) {
			t.Errorf("environment has %s...", bad)
		}
	}
	for _, good := range []string{"HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0", "GIT_ALLOW_PROTOCOL=https:http:ssh:git:file", "HTTPS_PROXY=http://proxy:3128"} {
		if !strings.Contains(joined, "\n"+good+"\n") {
			t.Errorf("environment lacks %s", good)
		}
	}
}

func TestSSHCommand(t *testing.T) {
	t.Parallel()
	got := sshCommand("/cache/home", "/keys/it's")
	want := `ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile='/cache/home/known_hosts' -o IdentityAgent=none -o IdentitiesOnly=yes -i '/keys/it'\''s'`
	if got != want {
		t.Errorf("sshCommand =\n%s\nwant\n%s", got, want)
	}
	if got := sshCommand("/h", ""); !strings.HasSuffix(got, "-o IdentityFile=none") {
		t.Errorf("without key: %s", got)
	}
	r, _ := newRunner("git@example.com:a/b.git", Options{Home: t.TempDir(), Credentials: Credentials{SSHKeyFile: "/k"}})
	if env, _ := r.env(); !strings.Contains(strings.Join(env, "\n"), "-i '/k'") {
		t.Errorf("ssh key not used for an scp-like URL")
	}
	// The command must be one sh accepts.
	if out, err := exec.Command("sh", "-c", "set -- "+want+`; printf %s "$#"`).CombinedOutput(); err != nil || string(out) != "15" {
		t.Errorf("sh parses the command into %s words (%v); want 15", out, err)
	}
}

// TestTokenOverHTTP serves a repository with `git http-backend` behind
// basic authentication and reaches it with and without the token.
func TestTokenOverHTTP(t *testing.T) {
	t.Parallel()
	repo := newRepo(t)
	head := repo.commit("first", map[string]string{"sub/a": "1"})
	srv, users := gitHTTPServer(t, filepath.Dir(repo.dir))
	url := srv.URL + "/repo"

	_, err := Resolve(ctx, url, "main", Options{Home: t.TempDir()})
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "none are configured") {
		t.Errorf("without token: %v; want ErrAuth", err)
	}
	_, err = Resolve(ctx, url, "main", Options{Home: t.TempDir(), Credentials: Credentials{Token: "wrong"}})
	if !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("with a wrong token: %v; want ErrAuth without the token", err)
	}
	c := &Cache{Dir: t.TempDir(), Credentials: Credentials{Token: token}}
	if got, err := c.Fetch(ctx, url, "main"); err != nil || got != head {
		t.Fatalf("Fetch with token = %q, %v; want %q", got, err, head)
	}
	dest := t.TempDir()
	if _, err := c.Checkout(ctx, url, head, dest, "sub"); err != nil || readTree(t, dest)["a"] != "1" {
		t.Errorf("Checkout with token: %v, %v", err, readTree(t, dest))
	}
	if !slices.Contains(users(), "x-access-token") {
		t.Errorf("server saw users %q; want x-access-token", users())
	}
}

// gitHTTPServer serves the repositories under root over smart HTTP,
// accepting any user name with the password token.
func gitHTTPServer(t *testing.T, root string) (*httptest.Server, func() []string) {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + root},
	}
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if ok {
			mu.Lock()
			seen = append(seen, user)
			mu.Unlock()
		}
		if !ok || pass != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorised", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}
