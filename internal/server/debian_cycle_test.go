package server

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkCycleBootstrap: kiln-stage-a and kiln-stage-b build-depend on each
// other, kiln-stage-a's dependency restricted to <!stage1>, and neither was
// ever built. kiln-stage-a has the bootstrap params `kiln import debian`
// gives such a package (profiles: stage1) and nocheck. Their group builds
// kiln-stage-a first with the stage1 profile (nocheck kept) and without
// kiln-stage-b, then kiln-stage-b against it, then kiln-stage-a again with
// its own params against kiln-stage-b's artifact: no member more than
// twice, and the group succeeds. The packages' own files say how they were
// built.
func checkCycleBootstrap(t *testing.T, f *Factory, a api) {
	t.Helper()
	stageA := debianComponent("kiln-stage-a", gitRepoFromDir(t, "testdata/debian/kiln-stage-a"), map[string]string{"nocheck": "true"}, nil)
	stageA["spec"].(map[string]any)["build"].(map[string]any)["bootstrap"] = map[string]any{
		"params": []any{map[string]any{"name": "profiles", "value": "stage1"}}}
	stageB := debianComponent("kiln-stage-b", gitRepoFromDir(t, "testdata/debian/kiln-stage-b"), nil, nil)
	a.must(201, "POST", nsPath("default", "components"), stageA)
	a.must(201, "POST", nsPath("default", "components"), stageB)
	g := waitGroupWith(t, a, "kiln-stage-a", 20*time.Minute)
	members := groupMembers(g)
	if str(g, "status", "phase") != "Succeeded" {
		t.Fatalf("the cycle's group %s: %s %s; members %v", str(g, "metadata", "name"), str(g, "status", "phase"), str(g, "status", "message"), members)
	}
	aBuilds, bBuilds := strings.Fields(str(members["kiln-stage-a"], "builds")), strings.Fields(str(members["kiln-stage-b"], "builds"))
	if len(aBuilds) != 2 || len(bBuilds) != 1 {
		t.Fatalf("builds: kiln-stage-a %v, kiln-stage-b %v; want a bootstrap build and a second pass, and one", aBuilds, bBuilds)
	}
	if without, _ := members["kiln-stage-a"]["bootstrapWithout"].([]any); len(without) != 1 || without[0] != "kiln-stage-b" {
		t.Fatalf("kiln-stage-a's member: bootstrapWithout %v, want [kiln-stage-b]", without)
	}
	get := func(name string) map[string]any {
		return a.must(200, "GET", nsPath("default", "builds")+"/"+name, nil).Obj
	}
	boot, b, final := get(aBuilds[0]), get(bBuilds[0]), get(aBuilds[1])
	checkBootstrapBuild(t, f, a, boot)
	if in := inputsOf(b); in["kiln-stage-a"] != str(boot, "status", "artifact", "digest") {
		t.Fatalf("kiln-stage-b was not built against the bootstrap build's artifact: inputs %v", in)
	}
	checkSecondPass(t, f, a, final, b)
	for _, build := range []map[string]any{boot, b, final} {
		t.Logf("%s: %s: %s", str(build, "metadata", "name"), str(build, "spec", "reason", "type"), str(build, "spec", "reason", "message"))
	}
	info, _ := debianBuildOutput(t, f, final, "kiln-stage-a")
	t.Logf("the final kiln-stage-a's /usr/share/kiln-stage-a/info:\n%s", info)
}

// checkBootstrapBuild: params profiles=stage1 (recorded in the
// provenance, with nocheck), no kiln-stage-b among the inputs or in the
// buildroot, a cycle reason naming it, and packages built with
// DEB_BUILD_PROFILES="nocheck stage1".
func checkBootstrapBuild(t *testing.T, f *Factory, a api, boot map[string]any) {
	t.Helper()
	name := str(boot, "metadata", "name")
	params, _ := boot["spec"].(map[string]any)["params"].([]any)
	if len(params) != 1 || str(params[0].(map[string]any), "name") != "profiles" || str(params[0].(map[string]any), "value") != "stage1" {
		t.Fatalf("bootstrap build %s: params %v, want profiles=stage1", name, params)
	}
	in := inputsOf(boot)
	if _, ok := in["kiln-stage-b"]; ok || in["debian-base"] == "" {
		t.Fatalf("bootstrap build %s: inputs %v, want debian-base and not kiln-stage-b", name, in)
	}
	msg := str(boot, "spec", "reason", "message")
	if str(boot, "spec", "reason", "type") != "cycle-pass" || !strings.Contains(msg, "bootstrap of cycle") ||
		!strings.Contains(msg, "without kiln-stage-b") || !strings.Contains(msg, "profiles=stage1") {
		t.Fatalf("bootstrap build %s: reason %v", name, boot["spec"].(map[string]any)["reason"])
	}
	prov := string(a.must(200, "GET", nsPath("default", "builds")+"/"+name+"/provenance", nil).Body)
	if !regexp.MustCompile(`"profiles":\s*"stage1"`).MatchString(prov) || !regexp.MustCompile(`"nocheck":\s*"true"`).MatchString(prov) {
		t.Fatalf("bootstrap build %s: the provenance lacks params profiles=stage1 and nocheck=true:\n%s", name, prov)
	}
	log := buildLog(t, a, name)
	if !strings.Contains(log, "packages besides the base") || regexp.MustCompile(`(?m)^\s+kiln-stage-b \S+ sha256:`).MatchString(log) {
		t.Fatalf("bootstrap build %s: no buildroot resolved, or with kiln-stage-b:\n%s", name, log)
	}
	info, env := debianBuildOutput(t, f, boot, "kiln-stage-a")
	if !strings.Contains(env, `DEB_BUILD_PROFILES="nocheck stage1"`) || !strings.Contains(info, "(stage1): built without kiln-stage-b") {
		t.Fatalf("bootstrap build %s: buildinfo environment %q, info %q", name, env, info)
	}
}

// checkSecondPass: kiln-stage-a rebuilt with its own params against
// kiln-stage-b's artifact, installed in its buildroot from there; its
// package records kiln-stage-b, which records the stage1 kiln-stage-a.
func checkSecondPass(t *testing.T, f *Factory, a api, final, b map[string]any) {
	t.Helper()
	name := str(final, "metadata", "name")
	bArt := str(b, "status", "artifact", "repository") + "@" + str(b, "status", "artifact", "digest")
	if p, _ := final["spec"].(map[string]any)["params"].([]any); len(p) != 0 || str(final, "spec", "reason", "type") != "cycle-pass" ||
		inputsOf(final)["kiln-stage-b"] != str(b, "status", "artifact", "digest") {
		t.Fatalf("second pass %s: params %v, reason %v, inputs %v", name, p, final["spec"].(map[string]any)["reason"], inputsOf(final))
	}
	if log := buildLog(t, a, name); !regexp.MustCompile(`kiln-stage-b \S+ sha256:[0-9a-f]{64} from ` + regexp.QuoteMeta(bArt)).MatchString(log) {
		t.Fatalf("second pass %s did not install kiln-stage-b from %s:\n%s", name, bArt, log)
	}
	info, env := debianBuildOutput(t, f, final, "kiln-stage-a")
	if strings.Contains(env, "stage1") || !strings.Contains(info, "kiln-stage-b 1.0: built with") || !strings.Contains(info, "kiln-stage-a 1.0 (stage1)") {
		t.Fatalf("second pass %s: buildinfo environment %q, info %q", name, env, info)
	}
}

// debianBuildOutput pulls a Debian build's artifact and returns the
// package's /usr/share/<pkg>/info and the .buildinfo's Environment field.
func debianBuildOutput(t *testing.T, f *Factory, b map[string]any, pkg string) (info, env string) {
	t.Helper()
	dir := t.TempDir()
	pullInto(t, f, str(b, "status", "artifact", "repository")+"@"+str(b, "status", "artifact", "digest"), dir)
	debs, _ := filepath.Glob(filepath.Join(dir, pkg+"_*_all.deb"))
	bi, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.buildinfo"))
	if len(debs) != 1 || len(bi) != 1 {
		t.Fatalf("%s's artifact: .debs %v, .buildinfo %v", str(b, "metadata", "name"), debs, bi)
	}
	out, err := exec.Command("sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -xOf - "./usr/share/$2/info"`, "sh", debs[0], pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("reading %s's info: %v\n%s", debs[0], err, out)
	}
	envOut, err := exec.Command("grep", "-A20", "^Environment:", bi[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("%s has no Environment: %v\n%s", bi[0], err, envOut)
	}
	return string(out), string(envOut)
}

// waitGroupWith waits for the latest group that requested component to
// finish and returns it.
func waitGroupWith(t *testing.T, a api, component string, d time.Duration) map[string]any {
	t.Helper()
	var g map[string]any
	eventuallyFor(t, "the group of "+component+" finishes", d, func() bool {
		g = nil
		for _, it := range a.must(200, "GET", nsPath("default", "buildgroups"), nil).Obj["items"].([]any) {
			o := it.(map[string]any)
			comps, _ := o["spec"].(map[string]any)["components"].([]any)
			if slices.Contains(comps, any(component)) {
				g = o
			}
		}
		p := str(g, "status", "phase")
		return g != nil && (p == "Succeeded" || p == "Failed" || p == "Cancelled")
	})
	return g
}

// groupMembers are a group's members by component, with their builds
// space-separated in "builds".
func groupMembers(g map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	ms, _ := g["status"].(map[string]any)["members"].([]any)
	for _, m := range ms {
		mm := m.(map[string]any)
		var builds []string
		list, _ := mm["builds"].([]any)
		for _, b := range list {
			builds = append(builds, b.(string))
		}
		mm["builds"] = strings.Join(builds, " ")
		out[str(mm, "component")] = mm
	}
	return out
}

// inputsOf are a build's inputs, digest by component.
func inputsOf(b map[string]any) map[string]string {
	out := map[string]string{}
	list, _ := b["spec"].(map[string]any)["inputs"].([]any)
	for _, in := range list {
		m := in.(map[string]any)
		out[str(m, "component")] = str(m, "digest")
	}
	return out
}
