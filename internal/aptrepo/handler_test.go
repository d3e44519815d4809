package aptrepo

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeSource serves one application whose artifacts are .deb files on disk.
type fakeSource struct {
	public  bool
	debs    map[string]string // artifact ref -> .deb file
	fetches atomic.Int32
}

func (s *fakeSource) Repository(_ context.Context, ns, app string) (Spec, error) {
	if ns != "team" || app != "greet" {
		return Spec{}, ErrNotFound
	}
	spec := Spec{Namespace: Namespace{"team", "uid-team"}, Public: s.public}
	for ref := range s.debs {
		spec.Artifacts = append(spec.Artifacts, ref)
	}
	return spec, nil
}

func (s *fakeSource) FetchDebs(_ context.Context, ref, dir string) ([]string, error) {
	s.fetches.Add(1)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	dst := filepath.Join(dir, filepath.Base(s.debs[ref]))
	data, err := os.ReadFile(s.debs[ref])
	if err != nil {
		return nil, err
	}
	return []string{dst}, os.WriteFile(dst, data, 0o644)
}

func TestHandlerConcurrentRequestsBuildOnce(t *testing.T) {
	src := &fakeSource{public: true, debs: map[string]string{"r/team/cli@sha256:1": buildDeb(t, "greet", "1.0-1", "all", "")}}
	pub := &Publisher{Source: src, Keys: Keys{Dir: t.TempDir()}, Dir: t.TempDir()}
	srv := httptest.NewServer(&Handler{Prefix: "/apt", Publisher: pub})
	defer srv.Close()
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			res, err := http.Get(srv.URL + "/apt/team/greet/dists/stable/InRelease")
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			codes[i] = res.StatusCode
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	if n := src.fetches.Load(); n != 1 {
		t.Fatalf("the repository was built %d times, want once", n)
	}
	for _, p := range []string{"/apt/team/nope/dists/stable/InRelease", "/apt/team/greet/.tmp-x/InRelease", "/apt/Team/greet/", "/apt/team/greet/../../x"} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, res.StatusCode)
		}
	}
	res, err := http.Get(srv.URL + "/apt/team/greet/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "deb [signed-by=") || !strings.Contains(string(body), "/apt/team/greet stable main") {
		t.Fatalf("repository root: %s", body)
	}
	if res, err := http.Post(srv.URL+"/apt/team/greet/x", "text/plain", nil); err != nil || res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %v %v", err, res)
	}
}

// Bad packages get a 422 that says what is wrong with them, and no
// server path.
func TestHandlerTellsPackageProblems(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken_1.0_all.deb")
	must(t, os.WriteFile(bad, []byte("not a deb"), 0o644))
	a := buildDeb(t, "greet", "1.0-1", "all", "")
	b := buildDeb(t, "greet", "1.0-1", "all", "Depends: other\n")
	for name, debs := range map[string]map[string]string{
		"malformed": {"r/team/cli@sha256:1": bad},
		"clash":     {"r/team/cli@sha256:1": a, "r/team/lib@sha256:2": b},
	} {
		src := &fakeSource{public: true, debs: debs}
		state := t.TempDir()
		srv := httptest.NewServer(&Handler{Prefix: "/apt", Publisher: &Publisher{Source: src, Keys: Keys{Dir: t.TempDir()}, Dir: state}})
		res, err := http.Get(srv.URL + "/apt/team/greet/dists/stable/InRelease")
		must(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		srv.Close()
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "greet") && name == "clash" ||
			!strings.Contains(string(body), "broken_1.0_all.deb") && name == "malformed" || strings.Contains(string(body), state) {
			t.Errorf("%s: %d %s", name, res.StatusCode, body)
		}
	}
}
