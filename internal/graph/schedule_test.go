package graph

import "testing"

// One long leaf (long, 10 s) beside a chain of three short members and a
// short leaf (aa) (1 s each), all after root: knowing the durations starts
// long first; priorities that think the chain is longer start it after
// the chain's head and aa.
func TestSimulateWithPriorities(t *testing.T) {
	t.Parallel()
	g := Build([]Edge{{"a", "root"}, {"b", "a"}, {"c", "b"}, {"long", "root"}, {"aa", "root"}})
	c := SCC(g)
	dur := DurationsOf(g, map[string]float64{"root": 1, "a": 1, "aa": 1, "b": 1, "c": 1, "long": 10})
	knew := Simulate(g, c, nil, dur, 1)
	same := SimulateWithPriorities(g, c, nil, Priorities(g, c, dur), dur, 1)
	if same.Makespan != knew.Makespan || len(same.Tasks) != len(knew.Tasks) {
		t.Errorf("with Simulate's own priorities: makespan %v, want %v", same.Makespan, knew.Makespan)
	}
	for i := range knew.Tasks {
		if same.Tasks[i] != knew.Tasks[i] {
			t.Errorf("task %d = %+v, want %+v", i, same.Tasks[i], knew.Tasks[i])
		}
	}
	unit := Priorities(g, c, DurationsOf(g, nil))
	guessed := SimulateWithPriorities(g, c, nil, unit, dur, 2)
	if best := Simulate(g, c, nil, dur, 2).Makespan; best != 11 || guessed.Makespan != 12 {
		t.Errorf("2 workers: makespan knowing %v (want 11), with unit priorities %v (want 12)", best, guessed.Makespan)
	}
	for _, task := range guessed.Tasks {
		if g.Name(task.Node) == "long" && task.Start != 2 {
			t.Errorf("with unit priorities long starts at %v, want 2 (after a and aa)", task.Start)
		}
	}
}
