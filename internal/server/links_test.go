package server

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/syncbuf"
)

// The tests in this file attack every place the server reads a file whose
// path or content a tenant controls — repository files, git resolver
// pathInRepo, task results, outputs, mount sub-paths — with symbolic links
// to files of the server's data directory, and check that nothing of those
// files reaches a log, a status, a result or a pushed artifact.

// leakEnv is a factory with secret markers in its data directory and
// outside it.
type leakEnv struct {
	f         *Factory
	a         api
	data      string
	hostDir   string // a private host directory outside the data directory
	serverLog *syncbuf.Buffer
	secrets   []string // content that must never show up anywhere
	extra     []string // more text a tenant can read (logs)
}

func newLeakEnv(t *testing.T) *leakEnv {
	t.Helper()
	env := &leakEnv{serverLog: &syncbuf.Buffer{}, hostDir: t.TempDir()}
	cfg := Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", AllowFileSources: true, RegistryNoSync: true,
		Log: slog.New(slog.NewTextHandler(env.serverLog, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	f, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Stop() })
	env.f, env.data = f, f.cfg.DataDir
	env.a = api{t: t, base: f.URL, token: f.AdminToken, hc: f.HTTPClient()}
	// Markers: the real Secret key, TLS and signing keys, and files a
	// link can name by a pipeline-like name, in the data directory and
	// elsewhere on the host.
	for _, f := range []string{"keys/secret.key", "tls/ca.key", "tls/server.key", "signing/cosign.key"} {
		env.secrets = append(env.secrets, longestLine(t, filepath.Join(env.data, f)))
	}
	env.secrets = append(env.secrets, "KILN-DATA-MARKER-7c1f2e", "KILN-HOST-MARKER-93ab40")
	writeFile(t, filepath.Join(env.data, "keys", "pipeline.yaml"), "tasks: KILN-DATA-MARKER-7c1f2e\n")
	writeFile(t, filepath.Join(env.data, "keys", "marker.yaml"), "KILN-DATA-MARKER-7c1f2e: [unclosed\n")
	writeFile(t, filepath.Join(env.hostDir, "marker.txt"), "KILN-HOST-MARKER-93ab40\n")
	return env
}

// longestLine is the longest line of a key file: the key itself, or a
// line of its PEM body.
func longestLine(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var longest string
	for _, l := range strings.Split(string(b), "\n") {
		if len(l) > len(longest) {
			longest = l
		}
	}
	if len(longest) < 32 {
		t.Fatalf("%s: no key material found", p)
	}
	return longest
}

// secretFile is the server's Secret encryption key.
func (e *leakEnv) secretFile() string { return filepath.Join(e.data, "keys", "secret.key") }

// linkRepo commits files and symbolic links (name -> target) to a new git
// repository and returns its file:// URL.
func linkRepo(t *testing.T, files, links map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
	for name, target := range links {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "links")
	return "file://" + dir
}

// ways returns link targets reaching file from a repository checkout:
// absolute, relative with "..", through /proc/self/cwd and /proc/self/root.
func ways(t *testing.T, file string) map[string]string {
	t.Helper()
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	fromCwd, err := filepath.Rel(cwd, file)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"abs":  file,
		"rel":  strings.Repeat("../", 30) + strings.TrimPrefix(file, "/"),
		"cwd":  "/proc/self/cwd/" + fromCwd,
		"proc": "/proc/self/root" + file,
	}
}

func (e *leakEnv) component(t *testing.T, name, app, url string, build map[string]any) {
	t.Helper()
	comp := component(name, app)
	comp["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["url"] = url
	if build == nil {
		build = map[string]any{}
	}
	build["pollInterval"] = "0s"
	comp["spec"].(map[string]any)["build"] = build
	e.a.must(201, "POST", nsPath("default", "components"), comp)
}

// scriptBuild is the catalog script pipeline on the host image, with out/
// as output.
func scriptBuild(script string) map[string]any {
	return map[string]any{"pipelineRef": "script", "params": []any{map[string]any{"name": "image", "value": "host"},
		map[string]any{"name": "outputs", "value": `["out"]`}, map[string]any{"name": "script", "value": script}}}
}

// buildOutcome is a finished build, its log and its status as JSON.
type buildOutcome struct {
	obj    map[string]any
	log    string
	status string
}

func (e *leakEnv) waitBuild(t *testing.T, component string) buildOutcome {
	t.Helper()
	b := waitBuild(t, e.a, component, 1)
	name := str(b, "metadata", "name")
	log := e.a.do("GET", nsPath("default", "builds")+"/"+name+"/log", nil)
	return buildOutcome{obj: b, log: string(log.Body), status: fmt.Sprint(b["status"])}
}

func (o buildOutcome) phase() string { return str(o.obj, "status", "phase") }

// says reports whether the build's message or log contains every want.
func (o buildOutcome) says(want ...string) bool {
	all := str(o.obj, "status", "message") + "\n" + o.log
	for _, w := range want {
		if !strings.Contains(all, w) {
			return false
		}
	}
	return true
}

// TestTenantLinksNeverLeakServerFiles: repositories and build steps point
// symbolic links at the server's Secret key (and other files of its data
// directory and of the host) at every place the server reads; each build
// fails or ignores the link with a message naming it, and the secret is
// nowhere: not in logs, statuses, results, pushed artifacts or the server's
// own log.
func TestTenantLinksNeverLeakServerFiles(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	env := newLeakEnv(t)
	a := env.a
	a.must(201, "POST", nsPath("default", "applications"), app("leaks"))
	want := map[string][]string{} // component -> what its message or log must say
	failing := func(name, url string, build map[string]any, says ...string) {
		env.component(t, name, "leaks", url, build)
		want[name] = says
	}
	secret := env.secretFile()
	for way, target := range ways(t, secret) {
		failing("kiln-"+way, linkRepo(t, nil, map[string]string{".kiln/pipeline.yaml": target}), nil,
			".kiln/pipeline.yaml is a symbolic link leaving the repository")
		failing("tekton-"+way, linkRepo(t, map[string]string{"README": "x"}, map[string]string{".tekton/build.yaml": target}), nil,
			".tekton/build.yaml is a symbolic link leaving the repository")
	}
	failing("kiln-dirlink", linkRepo(t, nil, map[string]string{".kiln": filepath.Join(env.data, "keys")}), nil,
		".kiln is a symbolic link leaving the repository")
	failing("kiln-chain", linkRepo(t, nil, map[string]string{".kiln/pipeline.yaml": "../a", "a": "b/c", "b/c": "../d", "d": ways(t, secret)["proc"]}), nil,
		".kiln/pipeline.yaml is a symbolic link leaving the repository")
	failing("tekton-dirlink", linkRepo(t, map[string]string{"README": "x"}, map[string]string{".tekton": filepath.Join(env.data, "keys")}), nil,
		".tekton is a symbolic link leaving the repository")
	// Manifests the server reads itself (capabilities, SBOM): the build
	// does not use them, so only the server could leak them.
	failing("manifests", linkRepo(t, map[string]string{"VERSION": "1\n"}, map[string]string{"go.mod": secret, "package.json": ways(t, secret)["rel"],
		".kiln/capabilities.yaml": ways(t, filepath.Join(env.data, "keys", "marker.yaml"))["cwd"], "app.spec": secret, "pyproject.toml": secret}),
		scriptBuild("mkdir -p out; cp VERSION out/"), "go.mod is a symbolic link leaving the repository")
	pipelines := leakPipelines(env)
	for name, p := range pipelines {
		failing(name, linkRepo(t, map[string]string{".kiln/pipeline.yaml": p.yaml}, nil), nil, p.says...)
	}
	// Links a step makes inside its output stay links: the artifact holds
	// the link, never the file it names. A hard link out of a step's mounts
	// is impossible; a FIFO is refused without hanging the server.
	env.component(t, "inner-links", "leaks", linkRepo(t, map[string]string{"VERSION": "1\n"}, nil), scriptBuild(
		"mkdir -p out; cp VERSION out/; ln -s "+secret+" out/key; ln -s "+filepath.Join(env.data, "keys")+" out/keys; "+
			"ln /usr/bin/env out/env 2>/dev/null && echo HARDLINK-MADE || echo hard link refused"))
	failing("fifo", linkRepo(t, map[string]string{"VERSION": "1\n"}, nil), scriptBuild("mkdir -p out; mkfifo out/pipe"),
		"pipe")

	for name, says := range want {
		o := env.waitBuild(t, name)
		if o.phase() != "Failed" || !o.says(says...) {
			t.Errorf("build of %s: phase %s, want Failed saying %q\nstatus: %s\nlog:\n%s", name, o.phase(), says, o.status, o.log)
		}
	}
	o := env.waitBuild(t, "inner-links")
	if o.phase() != "Succeeded" || !o.says("hard link refused") {
		t.Fatalf("inner-links: %s\n%s", o.status, o.log)
	}
	checkInnerLinks(t, env, o)
	env.checkKeysIntact(t)
	env.checkNoLeak(t)
}

// checkInnerLinks: the artifact holds the step's links as links.
func checkInnerLinks(t *testing.T, env *leakEnv, o buildOutcome) {
	t.Helper()
	dir := t.TempDir()
	ref := str(o.obj, "status", "artifact", "repository") + "@" + str(o.obj, "status", "artifact", "digest")
	if _, err := oci.Pull(t.Context(), ref, dir, oci.Remote{Token: env.f.AdminToken, RootCAs: env.f.caPool()}); err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	for _, name := range []string{"out/key", "out/keys"} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("artifact %s: %v %v, want a symbolic link", name, fi, err)
		}
	}
	env.grepTree(t, "artifact "+ref, dir)
}

// leakPipeline is a repository pipeline whose steps plant links where the
// server reads after them.
type leakPipeline struct {
	yaml string
	says []string
}

func leakPipelines(env *leakEnv) map[string]leakPipeline {
	secret, keys := env.secretFile(), filepath.Join(env.data, "keys")
	return map[string]leakPipeline{
		// A result file that is a link to the key.
		"result-link": {yaml: linkPipeline("ln -s "+secret+" $(results.leak.path)", "", ""),
			says: []string{"result leak", "is a symbolic link leaving"}},
		// A result file that is a link to a link in the data directory,
		// through a linked results parent... and a FIFO.
		"result-fifo": {yaml: linkPipeline("mkfifo $(results.leak.path)", "", ""),
			says: []string{"result leak", "FIFO, not a regular file"}},
		// An image output below a link to the data directory: the server
		// would pack (and move away) its own TLS keys.
		"image-subpath": {yaml: linkPipeline("echo ok > $(results.leak.path); ln -s "+env.data+" $(workspaces.output.path)/dist", "dist/tls", ""),
			says: []string{"dist is a symbolic link"}},
		// A later task mounts a sub-path a step made a link to a private
		// host directory.
		"mount-subpath": {yaml: linkPipeline("echo ok > $(results.leak.path); ln -s "+env.hostDir+" $(workspaces.output.path)/m", "", "m"),
			says: []string{"m is a symbolic link"}},
		// The same with the data directory (also refused by the sandbox's
		// protected paths).
		"mount-keys": {yaml: linkPipeline("echo ok > $(results.leak.path); ln -s "+keys+" $(workspaces.output.path)/m", "", "m"),
			says: []string{"m is a symbolic link"}},
	}
}

// linkPipeline runs script in a first task with a result "leak"; imageSub
// adds an image output from that sub-path of the output workspace;
// mountSub adds a second task that mounts that sub-path and prints it.
func linkPipeline(script, imageSub, mountSub string) string {
	p := `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: links
spec:
  workspaces: [{name: source}, {name: output}]
  results:
    - name: leak
      value: $(tasks.plant.results.leak)
  tasks:
    - name: plant
      workspaces: [{name: output, workspace: output}]
      taskSpec:
        workspaces: [{name: output}]
        results: [{name: leak}]
        steps:
          - name: plant
            image: host
            script: |
              ` + script + `
`
	if mountSub != "" {
		p += `    - name: read
      runAfter: [plant]
      workspaces: [{name: w, workspace: output, subPath: ` + mountSub + `}]
      taskSpec:
        workspaces: [{name: w}]
        steps:
          - name: read
            image: host
            script: |
              cat $(workspaces.w.path)/* || true
              echo planted > $(workspaces.w.path)/written-by-the-step
`
	}
	if imageSub != "" {
		p += `    - name: image
      runAfter: [plant]
      taskRef: {name: oci-image}
      params: [{name: prefix, value: /app}]
      workspaces: [{name: output, workspace: output, subPath: ` + imageSub + `}]
`
	}
	return p
}

// checkKeysIntact: nothing moved or wrote into the data directory or the
// private host directory.
func (e *leakEnv) checkKeysIntact(t *testing.T) {
	t.Helper()
	for _, p := range []string{e.secretFile(), filepath.Join(e.data, "keys", "pipeline.yaml"), filepath.Join(e.data, "tls", "ca.key"),
		filepath.Join(e.hostDir, "marker.txt")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, dir := range []string{filepath.Join(e.data, "keys"), e.hostDir} {
		if _, err := os.Stat(filepath.Join(dir, "written-by-the-step")); err == nil {
			t.Errorf("a step wrote into %s through a link", dir)
		}
	}
}

// checkNoLeak greps everything a tenant can read, and the server's log,
// for the secrets.
func (e *leakEnv) checkNoLeak(t *testing.T) {
	t.Helper()
	var texts []string
	for _, kind := range []string{"builds", "components", "snapshots", "releases", "buildgroups"} {
		texts = append(texts, string(e.a.must(200, "GET", nsPath("default", kind), nil).Body))
	}
	list := e.a.must(200, "GET", nsPath("default", "builds"), nil).Obj
	for _, it := range list["items"].([]any) {
		name := str(it.(map[string]any), "metadata", "name")
		texts = append(texts, string(e.a.do("GET", nsPath("default", "builds")+"/"+name+"/log", nil).Body))
		for _, sub := range []string{"provenance", "sbom"} {
			texts = append(texts, string(e.a.do("GET", nsPath("default", "builds")+"/"+name+"/"+sub, nil).Body))
		}
	}
	texts = append(texts, e.serverLog.String())
	texts = append(texts, e.extra...)
	e.grepArtifacts(t, list["items"].([]any))
	for i, text := range texts {
		for _, s := range e.secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret %q leaked (text %d):\n%s", s, i, text)
			}
		}
	}
}

// grepArtifacts pulls every artifact the builds pushed and greps it.
func (e *leakEnv) grepArtifacts(t *testing.T, builds []any) {
	t.Helper()
	for _, it := range builds {
		b := it.(map[string]any)
		digest := str(b, "status", "artifact", "digest")
		if digest == "" {
			continue
		}
		ref := str(b, "status", "artifact", "repository") + "@" + digest
		dir := t.TempDir()
		if _, err := oci.Pull(t.Context(), ref, dir, oci.Remote{Token: e.f.AdminToken, RootCAs: e.f.caPool()}); err != nil {
			t.Errorf("pulling %s: %v", ref, err)
			continue
		}
		e.grepTree(t, "artifact of "+str(b, "metadata", "name"), dir)
	}
}

// grepTree fails when a file under dir holds a secret.
func (e *leakEnv) grepTree(t *testing.T, what, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		for _, s := range e.secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s: %s holds secret %q", what, p, s)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTenantLinksNeverLeakFromTestsAndReleases: IntegrationTestScenario and
// ReleasePlan(Admission) git resolver pathInRepo values that are links
// (or paths) out of the pipeline repository, and a TEST_OUTPUT result a
// step made a link to a JSON file of the data directory, fail the test or
// release with a message naming the link; no secret reaches the
// Snapshot's or Release's status, or their logs.
func TestTenantLinksNeverLeakFromTestsAndReleases(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	env := newLeakEnv(t)
	a := env.a
	secret, keys := env.secretFile(), filepath.Join(env.data, "keys")
	note := filepath.Join(keys, "note.json")
	writeFile(t, note, `{"result":"SUCCESS","successes":1,"failures":0,"warnings":0,"note":"KILN-DATA-MARKER-7c1f2e"}`)
	fromRepo, err := filepath.Rel(t.TempDir(), secret) // a t.TempDir is as deep as the repository below
	if err != nil {
		t.Fatal(err)
	}
	pipes := linkRepo(t, map[string]string{"note.yaml": notePipeline(note)}, map[string]string{
		"abs.yaml": secret, "chain.yaml": "a.yaml", "a.yaml": ways(t, secret)["cwd"], "keys": keys, "dir/up.yaml": "../abs.yaml"})
	scenarios := map[string]string{ // scenario -> what its note must say
		"its-abs":      "abs.yaml is a symbolic link leaving the repository",
		"its-chain":    "chain.yaml is a symbolic link leaving the repository",
		"its-dirlink":  "keys is a symbolic link leaving the repository",
		"its-up":       "dir/up.yaml is a symbolic link leaving the repository",
		"its-dotdot":   "is not a relative path inside the repository",
		"its-absolute": "is not a relative path inside the repository",
		"its-note":     "result TEST_OUTPUT: TEST_OUTPUT is a symbolic link leaving the task's results directory",
	}
	paths := map[string]string{"its-abs": "abs.yaml", "its-chain": "chain.yaml", "its-dirlink": "keys/secret.key", "its-up": "dir/up.yaml",
		"its-dotdot": fromRepo, "its-absolute": secret, "its-note": "note.yaml"}
	a.must(201, "POST", nsPath("default", "applications"), app("greet"))
	for name, p := range paths {
		a.must(201, "POST", nsPath("default", "integrationtestscenarios"), scenario(name, pipes, p, true, ""))
	}
	env.component(t, "hello", "greet", linkRepo(t, map[string]string{"VERSION": "1\n"}, nil), scriptBuild("mkdir -p out; cp VERSION out/"))
	b := env.waitBuild(t, "hello")
	if b.phase() != "Succeeded" {
		t.Fatalf("build: %s\n%s", b.status, b.log)
	}
	snap := "greet-" + str(b.obj, "metadata", "name")
	checkScenarioNotes(t, waitAllTests(t, a, snap, len(scenarios)), scenarios)
	checkReleaseLinks(t, env, pipes, snap)
	for scenario := range scenarios {
		env.extra = append(env.extra, string(a.do("GET", nsPath("default", "snapshots")+"/"+snap+"/log?scenario="+scenario, nil).Body))
	}
	env.checkKeysIntact(t)
	env.checkNoLeak(t)
}

// waitAllTests waits for n tests of the snapshot to finish (optional ones
// do not hold TestsPassed back).
func waitAllTests(t *testing.T, a api, snap string, n int) map[string]any {
	t.Helper()
	var s map[string]any
	eventuallyFor(t, "every test of "+snap+" finished", 90*time.Second, func() bool {
		r := a.do("GET", nsPath("default", "snapshots")+"/"+snap, nil)
		if r.Code == 404 { // the snapshot controller has not made it yet
			return false
		}
		if r.Code != 200 {
			t.Fatalf("GET snapshot %s: %d %s", snap, r.Code, r.Body)
		}
		s = r.Obj
		status, _ := s["status"].(map[string]any) // none until the controller writes it
		tests, _ := status["tests"].([]any)
		done := 0
		for _, it := range tests {
			if str(it.(map[string]any), "state") == "Finished" {
				done++
			}
		}
		return done == n
	})
	return s
}

// notePipeline reports a TEST_OUTPUT that is a link to file.
func notePipeline(file string) string {
	return `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: note
spec:
  results:
    - name: TEST_OUTPUT
      value: $(tasks.report.results.TEST_OUTPUT)
  tasks:
    - name: report
      taskSpec:
        results: [{name: TEST_OUTPUT}]
        steps:
          - name: report
            image: host
            script: ln -s ` + file + ` $(results.TEST_OUTPUT.path)
`
}

func checkScenarioNotes(t *testing.T, s map[string]any, want map[string]string) {
	t.Helper()
	tests, _ := s["status"].(map[string]any)["tests"].([]any)
	seen := 0
	for _, it := range tests {
		tc := it.(map[string]any)
		name := str(tc, "scenario")
		says, ok := want[name]
		if !ok {
			continue
		}
		seen++
		if r := str(tc, "result"); r == "SUCCESS" || !strings.Contains(str(tc, "note"), says) {
			t.Errorf("scenario %s: result %s, note %q; want it to say %q", name, r, str(tc, "note"), says)
		}
	}
	if seen != len(want) {
		t.Errorf("snapshot tests: %v", s["status"])
	}
}

// checkReleaseLinks: a tenant pipeline and a managed pipeline whose
// pathInRepo are links out of the repository fail their Release.
func checkReleaseLinks(t *testing.T, env *leakEnv, pipes, snap string) {
	t.Helper()
	a := env.a
	ref := func(path string) map[string]any {
		return map[string]any{"pipelineRef": map[string]any{"resolver": "git", "params": []any{
			map[string]any{"name": "url", "value": pipes}, map[string]any{"name": "pathInRepo", "value": path}}}}
	}
	a.must(201, "POST", "/api/v1/namespaces", map[string]any{"metadata": map[string]any{"name": "prod"}, "spec": map[string]any{"type": "managed"}})
	a.must(201, "POST", nsPath("prod", "policies"), map[string]any{"metadata": map[string]any{"name": "release"},
		"spec": map[string]any{"sources": []any{map[string]any{"name": "kiln", "policy": []any{"kiln://rules"},
			"config": map[string]any{"include": []any{"@minimal"}, "exclude": []any{"builder.isolated_steps"}}}}}})
	a.must(201, "POST", nsPath("prod", "releaseplanadmissions"), map[string]any{"metadata": map[string]any{"name": "greet"},
		"spec": map[string]any{"applications": []any{"greet"}, "origin": "default", "policy": "release", "pipeline": ref("keys/pipeline.yaml")}})
	plans := map[string]map[string]any{"tenant": ref("abs.yaml"), "managed": nil}
	wants := map[string]string{"tenant": "abs.yaml is a symbolic link leaving the repository",
		"managed": "keys is a symbolic link leaving the repository"}
	for name, tenant := range plans {
		spec := map[string]any{"application": "greet", "target": "prod"}
		if tenant != nil {
			spec["tenantPipeline"] = tenant
		}
		a.must(201, "POST", nsPath("default", "releaseplans"), map[string]any{"metadata": map[string]any{"name": name,
			"labels": map[string]any{"release.appstudio.openshift.io/auto-release": "false"}}, "spec": spec})
		a.must(201, "POST", nsPath("default", "releases"), map[string]any{"metadata": map[string]any{"name": name},
			"spec": map[string]any{"snapshot": snap, "releasePlan": name}})
	}
	for name, want := range wants {
		r := waitRelease(t, a, name)
		log := string(a.do("GET", nsPath("default", "releases")+"/"+name+"/log", nil).Body)
		env.extra = append(env.extra, log)
		if str(r, "status", "phase") != "Failed" || !strings.Contains(fmt.Sprint(r["status"]), want) {
			t.Errorf("release %s: %v, want Failed saying %q\nlog:\n%s", name, r["status"], want, log)
		}
	}
}
