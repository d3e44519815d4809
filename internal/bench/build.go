package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/demo"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/registry"
	"github.com/kilnbuild/kiln/internal/server"
)

// BuildOptions shape `kiln bench build`.
type BuildOptions struct {
	Builds int // default 20
	Log    io.Writer
}

// BuildReport is the commit → artifact latency of a trivial component and
// its breakdown (medians, milliseconds).
type BuildReport struct {
	Builds int                `json:"builds"`
	Median float64            `json:"medianMillis"`
	P90    float64            `json:"p90Millis"`
	Phases map[string]float64 `json:"phaseMedianMillis"`
	// Overhead is the rest: the git commit, creating the build, numbering,
	// queueing, status writes and noticing the end.
	Overhead float64 `json:"overheadMedianMillis"`
}

// RunBuild starts a factory, then N times commits a change to a one-step
// script component and times commit → artifact pushed.
func RunBuild(ctx context.Context, o BuildOptions) (*BuildReport, error) {
	if o.Builds <= 0 {
		o.Builds = 20
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	dir, err := os.MkdirTemp("", "kiln-bench-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f, err := server.Start(ctx, server.Config{DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0",
		AllowFileSources: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	defer f.Stop()
	repo := filepath.Join(dir, "repo")
	if err := setupTrivial(ctx, f, repo); err != nil {
		return nil, err
	}
	return measureBuilds(ctx, f, repo, dir, o)
}

func setupTrivial(ctx context.Context, f *server.Factory, repo string) error {
	if err := initRepo(ctx, repo, map[string]string{"input.txt": "0\n"}); err != nil {
		return err
	}
	manifest := fmt.Sprintf(`apiVersion: kiln.dev/v1alpha1
kind: Application
metadata: {name: bench, namespace: default}
---
apiVersion: kiln.dev/v1alpha1
kind: Component
metadata: {name: trivial, namespace: default}
spec:
  application: bench
  source: {git: {url: "file://%s"}}
  build:
    pipelineRef: script
    pollInterval: 0s
    params:
      - {name: image, value: host}
      - {name: script, value: "mkdir -p out && cp input.txt out/"}
      - {name: outputs, value: '["out"]'}
`, repo)
	objs, err := v1alpha1.DecodeAll(strings.NewReader(manifest))
	if err != nil {
		return err
	}
	for _, o := range objs {
		k, _ := v1alpha1.KindOf(o)
		if _, err := f.Registry.Create(ctx, k, o, registry.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func measureBuilds(ctx context.Context, f *server.Factory, repo, dir string, o BuildOptions) (*BuildReport, error) {
	var totals, scheds []time.Duration
	phases := map[string][]float64{}
	bk, _ := v1alpha1.Lookup("Build")
	waitIdle(ctx, f, bk)
	for i := 1; i <= o.Builds; i++ {
		start := time.Now()
		commit, err := commitChange(ctx, repo, i)
		if err != nil {
			return nil, err
		}
		b := &v1alpha1.Build{Spec: v1alpha1.BuildSpec{Component: "trivial", Revision: commit,
			Reason: v1alpha1.BuildReason{Type: v1alpha1.ReasonSourceChange, By: "bench"}}}
		b.Name, b.Namespace = "trivial-"+strconv.Itoa(i), "default"
		if _, err := f.Registry.Create(ctx, bk, b, registry.CreateOptions{}); err != nil {
			return nil, err
		}
		if _, err := waitDone(ctx, f, bk, b.Name); err != nil {
			return nil, err
		}
		total := time.Since(start)
		totals = append(totals, total)
		spent := readTimings(filepath.Join(dir, "data", "logs", "default", b.Name+".log"), phases)
		scheds = append(scheds, total-spent)
		fmt.Fprintf(o.Log, "build %d: %s\n", i, time.Since(start).Round(time.Millisecond))
	}
	return report(totals, scheds, phases), nil
}

// waitIdle lets the component's first build finish before measuring.
func waitIdle(ctx context.Context, f *server.Factory, bk *v1alpha1.Kind) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := f.Registry.List(ctx, bk, registry.ListOptions{Namespace: "default"})
		if err == nil && len(res.Items) > 0 && res.Items[0].(*v1alpha1.Build).Finished() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func commitChange(ctx context.Context, repo string, i int) (string, error) {
	if err := os.WriteFile(filepath.Join(repo, "input.txt"), []byte(strconv.Itoa(i)+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := demo.Git(ctx, repo, "commit", "-q", "-am", "change "+strconv.Itoa(i)); err != nil {
		return "", err
	}
	out, err := gitOutput(ctx, repo, "rev-parse", "HEAD")
	return strings.TrimSpace(out), err
}

func waitDone(ctx context.Context, f *server.Factory, bk *v1alpha1.Kind, name string) (*v1alpha1.Build, error) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		obj, err := f.Registry.Get(ctx, bk, "default", name, registry.GetOptions{})
		if err == nil {
			if b := obj.(*v1alpha1.Build); b.Finished() {
				if b.Status.Phase != v1alpha1.BuildSucceeded {
					return nil, fmt.Errorf("build %s %s: %s", name, b.Status.Phase, b.Status.Message)
				}
				return b, nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil, fmt.Errorf("build %s did not finish in 60s", name)
}

// readTimings parses the executor's timings line from a build log and
// returns the time the phases took together.
func readTimings(path string, into map[string][]float64) time.Duration {
	var sum float64
	fh, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), executor.TimingsPrefix)
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			ms, err := strconv.ParseFloat(strings.TrimSuffix(v, "ms"), 64)
			if err == nil {
				into[k] = append(into[k], ms)
				sum += ms
			}
		}
	}
	return time.Duration(sum * float64(time.Millisecond))
}

func report(totals, scheds []time.Duration, phases map[string][]float64) *BuildReport {
	t := summarise(totals)
	r := &BuildReport{Builds: len(totals), Median: t.P50, P90: percentile(totals, 90),
		Phases: map[string]float64{}, Overhead: summarise(scheds).P50}
	for k, v := range phases {
		sort.Float64s(v)
		r.Phases[k] = v[len(v)/2]
	}
	return r
}

func percentile(d []time.Duration, p int) float64 {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[(len(s)*p)/100].Microseconds()) / 1000
}
