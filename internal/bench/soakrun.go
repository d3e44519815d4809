package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kilnbuild/kiln/internal/client"
	"github.com/kilnbuild/kiln/internal/demo"
)

// setupTimeout bounds creating the components and their first builds.
const setupTimeout = 5 * time.Minute

func (s *soak) run(ctx context.Context) (*SoakReport, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	tr, err := s.setup(ctx, c)
	if err != nil {
		return nil, err
	}
	defer tr.stop()
	smp := newSampler(s, tr, c)
	d := newDriver(s, c, tr)
	if err := smp.measure(ctx, d); err != nil {
		return nil, err
	}
	tr.stop()
	stopped := time.Now()
	s.srv.stop()
	s.rep.Achieved.StopSeconds = time.Since(stopped).Seconds()
	s.report(smp, d, tr)
	return s.rep, nil
}

// client returns an API client with the server's admin credentials.
func (s *soak) client() (*client.Client, error) {
	cfg, err := client.LoadConfig(filepath.Join(s.dataDir, "client.yaml"))
	if err != nil {
		return nil, fmt.Errorf("reading the server's client config: %w", err)
	}
	c := client.New(cfg)
	c.UserAgent = "kiln-bench-soak"
	return c, nil
}

// setup creates the namespace, starts following it, creates the
// repositories and objects, and waits until the first builds (and their
// tests and releases) are done.
func (s *soak) setup(ctx context.Context, c *client.Client) (*tracker, error) {
	s.logf("setting up %d components…", len(s.comps))
	ns := client.Object{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": soakNamespace}}
	if err := s.create(ctx, c, ns); err != nil {
		if client.IsAlreadyExists(err) {
			return nil, fmt.Errorf("namespace %s exists: run the soak on an empty database", soakNamespace)
		}
		return nil, err
	}
	tr, err := startTracker(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := s.createAll(ctx, c, tr); err != nil {
		tr.stop()
		return nil, err
	}
	return tr, nil
}

// createAll creates the repositories and objects and waits for the first
// builds.
func (s *soak) createAll(ctx context.Context, c *client.Client, tr *tracker) error {
	testsRepo, err := s.createRepos(ctx)
	if err != nil {
		return err
	}
	if err := s.apply(ctx, c, soakManifest(s.comps, testsRepo)); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	if err := s.settle(sctx, c, tr); err != nil {
		return fmt.Errorf("waiting for the first builds: %w (still open: %s)", err, strings.Join(openWork(tr), ", "))
	}
	return nil
}

// createRepos makes each component's git repository, and the tests'
// repository when components are released; it returns the latter.
func (s *soak) createRepos(ctx context.Context) (string, error) {
	for _, c := range s.comps {
		c.repo = filepath.Join(s.o.Dir, "repos", c.Name)
		if err := initRepo(ctx, c.repo, map[string]string{"input.txt": "0\n"}); err != nil {
			return "", err
		}
	}
	if s.o.Released == 0 {
		return "", nil
	}
	tests := filepath.Join(s.o.Dir, "repos", "tests")
	return tests, initRepo(ctx, tests, map[string]string{".tekton/check.yaml": checkPipeline})
}

// apply creates every document of manifest, in order.
func (s *soak) apply(ctx context.Context, c *client.Client, manifest string) error {
	for _, doc := range strings.Split(manifest, "\n---\n") {
		raw, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return fmt.Errorf("soak manifest: %w", err)
		}
		var obj client.Object
		if err := json.Unmarshal(raw, &obj); err != nil {
			return fmt.Errorf("soak manifest: %w", err)
		}
		if obj == nil {
			continue
		}
		if err := s.create(ctx, c, obj); err != nil {
			return err
		}
	}
	return nil
}

func (s *soak) create(ctx context.Context, c *client.Client, obj client.Object) error {
	res, err := c.ResourceFor(ctx, obj.APIVersion(), obj.Kind())
	if err != nil {
		return fmt.Errorf("creating %s %s: %w", obj.Kind(), obj.Name(), err)
	}
	if _, err := c.Create(ctx, res, obj.Namespace(), obj); err != nil {
		return fmt.Errorf("creating %s %s: %w", obj.Kind(), obj.Name(), err)
	}
	return nil
}

// settle waits until every component has an artifact and nothing has
// been unfinished for two checks a second apart.
func (s *soak) settle(ctx context.Context, c *client.Client, tr *tracker) error {
	quiet := 0
	for quiet < 2 {
		if err := tr.err(); err != nil {
			return err
		}
		if tr.idle() && s.allBuilt(ctx, c) {
			quiet++
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (s *soak) allBuilt(ctx context.Context, c *client.Client) bool {
	for _, comp := range s.comps {
		if _, err := s.latestArtifact(ctx, c, comp.Name); err != nil {
			return false
		}
	}
	return true
}

// latestArtifact is component's current artifact as a build input.
func (s *soak) latestArtifact(ctx context.Context, c *client.Client, component string) (map[string]any, error) {
	data, err := c.Do(ctx, "GET", "/apis/kiln.dev/v1alpha1/namespaces/"+soakNamespace+"/components/"+component, nil, nil)
	if err != nil {
		return nil, err
	}
	obj, err := client.DecodeObject(data)
	if err != nil {
		return nil, err
	}
	repo, digest, ok := strings.Cut(obj.String("status", "latestArtifactRef"), "@")
	if !ok {
		return nil, fmt.Errorf("%s has no artifact yet", component)
	}
	return map[string]any{"component": component, "repository": repo, "digest": digest}, nil
}

func openWork(tr *tracker) []string {
	var out []string
	for _, k := range tr.all() {
		out = append(out, k.openNames()...)
	}
	return out
}

// initRepo creates a git repository at dir with files, committed on main.
func initRepo(ctx context.Context, dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "init"}} {
		if err := demo.Git(ctx, dir, args...); err != nil {
			return err
		}
	}
	return nil
}
