package graph

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/kilnbuild/kiln/internal/golden"
)

// fixtureArgs is testdata/<name>/args.json.
type fixtureArgs struct {
	Changed []string `json:"changed"`
	Workers int      `json:"workers"`
}

// fixtureOutput is compared with testdata/<name>/expected.json: the plan
// summary (timings zeroed) plus the full rebuild set, levels and schedule.
type fixtureOutput struct {
	Plan     *PlanResult      `json:"plan"`
	Rebuild  []string         `json:"rebuild"`
	Levels   map[string]int32 `json:"levels"`
	Schedule []fixtureTask    `json:"schedule,omitempty"`
}

type fixtureTask struct {
	Node   string  `json:"node"`
	Worker int32   `json:"worker"`
	Start  float64 `json:"start"`
	Finish float64 `json:"finish"`
}

// TestFixtures runs Plan on every testdata/<name> with an args.json and
// compares the result with expected.json, or the error with error.txt.
// Run with -update to rewrite them (then review the diff).
func TestFixtures(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/*/args.json")
	if len(dirs) < 8 {
		t.Fatalf("found %d fixtures, want at least 8", len(dirs))
	}
	for _, a := range dirs {
		dir := filepath.Dir(a)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			got, isErr := runFixture(t, dir)
			want := "expected.json"
			if isErr {
				want = "error.txt"
			}
			golden.Check(t, filepath.Join(dir, want), got)
		})
	}
}

func runFixture(t *testing.T, dir string) ([]byte, bool) {
	var args fixtureArgs
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "args.json")), &args); err != nil {
		t.Fatal(err)
	}
	g, err := ParseEdges(bytes.NewReader(readFile(t, filepath.Join(dir, "edges.tsv"))))
	if err != nil {
		return []byte(err.Error() + "\n"), true
	}
	var durations map[string]float64
	if d, err := os.ReadFile(filepath.Join(dir, "durations.tsv")); err == nil {
		if durations, err = ParseDurations(bytes.NewReader(d)); err != nil {
			return []byte(err.Error() + "\n"), true
		}
	}
	res, err := Plan(g, args.Changed, durations, args.Workers)
	if err != nil {
		return []byte(err.Error() + "\n"), true
	}
	out, err := json.MarshalIndent(fixtureView(g, res), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n'), false
}

func fixtureView(g *Graph, res *PlanResult) fixtureOutput {
	zeroTimings(res)
	out := fixtureOutput{Plan: res, Rebuild: PathNames(g, res.Rebuild), Levels: map[string]int32{}}
	for v, name := range g.Names() {
		out.Levels[name] = res.Levels[res.Components.Of[v]]
	}
	if res.Schedule != nil {
		for _, task := range res.Schedule.Tasks {
			out.Schedule = append(out.Schedule, fixtureTask{g.Name(task.Node), task.Worker, task.Start, task.Finish})
		}
	}
	return out
}

func zeroTimings(res *PlanResult) {
	res.PlanMillis = 0
	if res.Simulation != nil {
		res.SimulateMillis = 0
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
