package policy

import (
	"context"
	"runtime"
	"sync"
)

// CodeEvaluationError is the violation recorded for a component whose
// evaluation failed (a rule error, a cancelled context).
const CodeEvaluationError = "kiln.evaluation_error"

// Evaluate evaluates every input (one per snapshot component, named by
// Kiln.Component or the snapshot) and returns the verdict. A component
// whose evaluation fails gets a kiln.evaluation_error violation, so the
// verdict fails closed.
func Evaluate(ctx context.Context, eng *Engine, inputs []Input) Verdict {
	v := Verdict{EvaluatedAt: eng.now().UTC(), Policy: PolicyRef{Name: eng.Name(), Digest: eng.Digest()},
		Components: make([]ComponentResult, len(inputs))}
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, in := range inputs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			v.Components[i] = evaluateOne(ctx, eng, in)
		}()
	}
	wg.Wait()
	v.Success = len(inputs) > 0
	for _, c := range v.Components {
		v.Success = v.Success && c.Passed()
	}
	return v
}

func evaluateOne(ctx context.Context, eng *Engine, in Input) ComponentResult {
	res, err := eng.Evaluate(ctx, "", in)
	if err != nil {
		res.Violations = append(res.Violations, Result{Code: CodeEvaluationError, Msg: err.Error(),
			Title: "Policy evaluation failed"})
		res.Warnings, res.Successes = nonNil(res.Warnings), nonNil(res.Successes)
	}
	return res
}
