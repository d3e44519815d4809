package server

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

// TestBuildStepsConfinedFromHost: a real build through the server, as root,
// with a prefetch step: the prefetch step cannot reach the Kiln API on the
// host's loopback; the build step runs as uid 1000 owning its workspace,
// cannot write anything under /proc, and the build log names the leased
// host user, which is not root.
func TestBuildStepsConfinedFromHost(t *testing.T) {
	t.Parallel()
	requireSandbox(t)
	if os.Geteuid() != 0 {
		t.Skip("about a server running as root")
	}
	url, _ := gitRepo(t, map[string]string{"VERSION": "1\n"})
	f, a := buildFactory(t, Config{})
	port := f.URL[strings.LastIndex(f.URL, ":")+1:]
	comp := component("confined", "greet")
	comp["spec"].(map[string]any)["source"].(map[string]any)["git"].(map[string]any)["url"] = url
	comp["spec"].(map[string]any)["build"] = map[string]any{"pollInterval": "0s", "pipelineSpec": confinedPipeline(port)}
	a.must(201, "POST", nsPath("default", "components"), comp)
	b := waitBuild(t, a, "confined", 1)
	log := a.do("GET", nsPath("default", "builds")+"/"+str(b, "metadata", "name")+"/log", nil)
	if str(b, "status", "phase") != "Succeeded" {
		t.Fatalf("build: %v\n%s", b["status"], log.Body)
	}
	ref := str(b, "status", "artifact", "repository") + "@" + str(b, "status", "artifact", "digest")
	for file, want := range map[string]string{"api": "unreachable\n", "uid": "1000\n", "owner": "1000\n", "procw": "0\n"} {
		if got := pullFile(t, f, ref, file); got != want {
			t.Errorf("%s = %q, want %q\nlog:\n%s", file, got, want, log.Body)
		}
	}
	m := regexp.MustCompile(`steps run as host user (\d+):(\d+)`).FindStringSubmatch(string(log.Body))
	if m == nil {
		t.Fatalf("the build log does not name the host user:\n%s", log.Body)
	}
	uid, _ := strconv.Atoi(m[1])
	if uid < sandbox.DefaultHostIDs.First || uid > sandbox.DefaultHostIDs.Last() {
		t.Fatalf("steps ran as host uid %d, outside %s", uid, sandbox.DefaultHostIDs)
	}
}

func confinedPipeline(apiPort string) map[string]any {
	fetch := `api=unreachable
curl -sk --max-time 5 -o /dev/null https://127.0.0.1:` + apiPort + `/ && api=REACHED
echo $api > /kiln/prefetch/api
`
	build := `out=$(workspaces.output.path)
id -u > $out/uid
stat -c %u $(workspaces.source.path) > $out/owner
cp /kiln/prefetch/api $out/api
n=0
for f in $(find /proc -type f 2>/dev/null); do
	if true 2>/dev/null >>"$f"; then n=$((n+1)); fi
done
echo $n > $out/procw
`
	return map[string]any{"apiVersion": "tekton.dev/v1", "kind": "Pipeline", "metadata": map[string]any{"name": "confined"},
		"spec": map[string]any{
			"workspaces": []any{map[string]any{"name": "source"}, map[string]any{"name": "output"}},
			"tasks": []any{map[string]any{"name": "build",
				"workspaces": []any{map[string]any{"name": "source", "workspace": "source"}, map[string]any{"name": "output", "workspace": "output"}},
				"taskSpec": map[string]any{
					"metadata":   map[string]any{"annotations": map[string]any{"kiln.dev/prefetch": "fetch"}},
					"workspaces": []any{map[string]any{"name": "source"}, map[string]any{"name": "output"}},
					"steps": []any{
						map[string]any{"name": "fetch", "image": "host", "script": fetch},
						map[string]any{"name": "build", "image": "host", "script": build},
					},
				}}},
		}}
}
