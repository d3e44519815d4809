package release

import (
	"context"
	"crypto"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/attest"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/policy"
)

// PolicyChecker verifies every artifact of a Snapshot and evaluates a
// Policy on the verified evidence.
type PolicyChecker struct {
	// BuilderKey verifies signatures when the Policy names no key.
	BuilderKey crypto.PublicKey
	// BuilderID is the provenance builder id Verify requires.
	BuilderID string
	// KeyID is recorded on verified signatures.
	KeyID string
	// Remote gives the credentials to read an artifact.
	Remote func(ref string) oci.Remote
	Now    func() time.Time
}

// Check verifies and evaluates; the error is for a policy that does not
// compile or a key that does not parse (the Release fails with it).
func (p *PolicyChecker) Check(ctx context.Context, pol *v1alpha1.Policy, s *v1alpha1.Snapshot) (*v1alpha1.PolicyVerdict, policy.Verdict, error) {
	eng, err := policy.Compile(ctx, pol.Spec, p.Now)
	if err != nil {
		return nil, policy.Verdict{}, fmt.Errorf("policy %s/%s: %w", pol.Namespace, pol.Name, err)
	}
	key := p.BuilderKey
	if pol.Spec.PublicKey != "" {
		if key, err = attest.ParsePublicKeyPEM([]byte(strings.TrimSpace(pol.Spec.PublicKey))); err != nil {
			return nil, policy.Verdict{}, fmt.Errorf("policy %s/%s spec.publicKey: %w", pol.Namespace, pol.Name, err)
		}
	}
	inputs := p.inputs(ctx, s, key)
	v := policy.Evaluate(ctx, eng, inputs)
	return summarise(pol, v, p.Now()), v, nil
}

// inputs verifies each component's artifact (in parallel) and builds its
// policy input from what verified.
func (p *PolicyChecker) inputs(ctx context.Context, s *v1alpha1.Snapshot, key crypto.PublicKey) []policy.Input {
	snap := policy.SnapshotFromSpec(s.Spec)
	tests := testResults(s)
	out := make([]policy.Input, len(s.Spec.Components))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, c := range s.Spec.Components {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rep, stmts, _ := attest.VerifyStatements(ctx, c.ContainerImage, key, p.Remote(c.ContainerImage),
				attest.VerifyOptions{BuilderID: p.BuilderID, SBOMOptional: true})
			in, err := policy.NewInput(rep, policy.ReportOptions{Component: c.Name, BuilderID: p.BuilderID, KeyID: p.KeyID,
				Statements: stmts, Snapshot: snap, Tests: tests})
			if err != nil {
				in = policy.Input{Kiln: policy.Kiln{Component: c.Name, BuilderID: p.BuilderID, VerifyErrors: []string{err.Error()}}, Snapshot: snap, Tests: tests}
			}
			if in.Image.Ref == "" {
				in.Image.Ref = c.ContainerImage
			}
			out[i] = in
		}()
	}
	wg.Wait()
	return out
}

func testResults(s *v1alpha1.Snapshot) []policy.TestResult {
	out := []policy.TestResult{}
	for _, t := range s.Status.Tests {
		r := t.Result
		if t.State != v1alpha1.TestFinished {
			r = v1alpha1.ResultError
		}
		out = append(out, policy.TestResult{Name: t.Scenario, Result: r, Optional: t.Optional})
	}
	return out
}

// summarise turns the engine's verdict into the Release's status.
func summarise(pol *v1alpha1.Policy, v policy.Verdict, now time.Time) *v1alpha1.PolicyVerdict {
	t := metav1.NewTime(now)
	out := &v1alpha1.PolicyVerdict{Policy: pol.Namespace + "/" + pol.Name, Digest: v.Policy.Digest, Passed: v.Success, EvaluatedTime: &t}
	for _, c := range v.Components {
		cv := v1alpha1.ComponentVerdict{Name: c.Name, ContainerImage: c.Image, Successes: len(c.Successes),
			Violations: results(c.Violations), Warnings: results(c.Warnings)}
		out.Violations += len(c.Violations)
		out.Warnings += len(c.Warnings)
		out.Successes += len(c.Successes)
		out.Components = append(out.Components, cv)
	}
	return out
}

func results(rs []policy.Result) []v1alpha1.PolicyResult {
	var out []v1alpha1.PolicyResult
	for _, r := range rs {
		out = append(out, v1alpha1.PolicyResult{Code: r.Code, Message: r.Msg, EffectiveOn: r.EffectiveOn})
	}
	return out
}
