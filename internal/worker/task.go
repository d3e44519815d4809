package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kilnbuild/kiln/api/v1alpha1"
	"github.com/kilnbuild/kiln/internal/executor"
	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/pipeline"
	"github.com/kilnbuild/kiln/internal/pipelinerun"
	"github.com/kilnbuild/kiln/internal/remote"
)

// errPartitioned stops a build whose lease could not be renewed for its
// whole duration: the server has taken it back by now.
var errPartitioned = errors.New("the lease could not be renewed for its whole duration (the server is unreachable): stopped")

// run runs one leased build and reports it. A build whose lease is lost
// (refused by the server, or not renewed in time) is stopped; its report
// is still sent, and the server's refusal logged.
func (w *Worker) run(ctx context.Context, t *remote.Task) {
	log := w.cfg.Log.With("build", t.Namespace+"/"+t.Build, "generation", t.Generation)
	log.Info("leased a build")
	lease := time.Duration(t.LeaseSeconds * float64(time.Second))
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	kept := make(chan struct{})
	go func() { defer close(kept); w.keepLease(runCtx, t, lease, stop, log) }()
	ship := newLogShipper(w.c, t, func(err error) { stop(err) })
	out, prefetched, err := w.execute(runCtx, t, ship)
	if err == nil && !out.Failed {
		fmt.Fprintf(ship, "==> worker: steps done, outputs pushed\n")
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), lease)
	defer cancel()
	if lerr := ship.Close(closeCtx); lerr != nil && err == nil {
		err = lerr
	}
	cause := context.Cause(runCtx)
	stop(nil)
	<-kept
	done := completion(t, out, prefetched, err)
	if cause != nil {
		log.Warn("the build was stopped", "cause", cause)
		done = remote.Completion{Generation: t.Generation, Error: true, Message: "stopped on the worker: " + cause.Error()}
	}
	rctx, rcancel := reportContext(ctx, lease)
	defer rcancel()
	w.report(rctx, t, done, log)
}

// reportWindow is how long a worker keeps trying to report a build (a
// worker cut off from the server reports once it is back, and learns
// whether the server still wanted it).
const reportWindow = 2 * time.Minute

// reportContext ends after reportWindow, or one lease duration after the
// worker is told to stop.
func reportContext(ctx context.Context, lease time.Duration) (context.Context, context.CancelFunc) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportWindow)
	go func() {
		select {
		case <-rctx.Done():
		case <-ctx.Done():
			sleep(rctx, lease)
			cancel()
		}
	}()
	return rctx, cancel
}

// keepLease renews the lease every third of its duration until ctx ends.
// A refusal stops the build at once; so does a lease that could not be
// renewed for its whole duration (a partition).
func (w *Worker) keepLease(ctx context.Context, t *remote.Task, lease time.Duration, stop context.CancelCauseFunc, log *slog.Logger) {
	tick := time.NewTicker(lease / 3)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, lease/3)
		err := w.c.renew(rctx, t)
		cancel()
		switch {
		case err == nil:
			last = time.Now()
		case errors.Is(err, errLeaseLost):
			log.Warn("the server refused to renew the lease", "err", err)
			stop(err)
			return
		case time.Since(last) >= lease:
			log.Warn("lease not renewed in time", "err", err)
			stop(errPartitioned)
			return
		default:
			log.Warn("renewing the lease", "err", err)
		}
	}
}

// report sends the completion, retrying on network errors until ctx
// ends; a refusal (the lease is no longer this worker's) is final.
func (w *Worker) report(ctx context.Context, t *remote.Task, done remote.Completion, log *slog.Logger) {
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := w.c.complete(actx, t, done)
		cancel()
		switch {
		case err == nil:
			log.Info("reported the build", "failed", done.Failed || done.Error)
			return
		case errors.Is(err, errLeaseLost):
			log.Warn("the server refused the report: the lease was taken back", "err", err)
			return
		case ctx.Err() != nil:
			log.Error("the report could not be sent", "err", err)
			return
		}
		sleep(ctx, time.Second)
	}
}

func completion(t *remote.Task, out executor.Outcome, prefetched []pipeline.FileRecord, err error) remote.Completion {
	done := remote.Completion{Generation: t.Generation, Steps: out.Steps, Outputs: out.Outputs, Prefetched: prefetched,
		Failed: out.Failed, Message: out.Message}
	if err != nil {
		done.Error, done.Message = true, err.Error()
	}
	return done
}

// execute fetches the source and runs the steps with the executor's code,
// pushing to the server's registry with the build's push token.
func (w *Worker) execute(ctx context.Context, t *remote.Task, log *logShipper) (executor.Outcome, []pipeline.FileRecord, error) {
	ws := filepath.Join(w.cfg.WorkDir, "builds", t.Namespace, t.Build+"-"+strconv.FormatInt(t.Generation, 10))
	_ = os.RemoveAll(ws)
	defer os.RemoveAll(ws)
	src := filepath.Join(ws, "source")
	if err := w.fetchSource(ctx, t, src); err != nil {
		return executor.Outcome{}, nil, err
	}
	fmt.Fprintf(log, "==> worker: running %s on %s\n", t.Plan.Pipeline, w.cfg.Platform)
	runner := &pipelinerun.Runner{Registry: w.host, Remote: oci.Remote{Token: t.PushToken, RootCAs: w.rootCAs()},
		ImageCache: filepath.Join(w.cfg.WorkDir, "step-images"), WorkDir: filepath.Join(w.cfg.WorkDir, "work"), Sandbox: w.sb}
	e := &executor.Executor{Runs: runner, WorkDir: filepath.Join(w.cfg.WorkDir, "work")}
	job := w.job(ctx, t, log)
	return e.RunSteps(ctx, job, w.localPlan(t), src, ws, t.Commit, t.Epoch)
}

func (w *Worker) fetchSource(ctx context.Context, t *remote.Task, dir string) error {
	body, err := w.c.source(ctx, t)
	if err != nil {
		return fmt.Errorf("fetching the source from the server: %w", err)
	}
	defer body.Close()
	return oci.ExtractTree(body, dir)
}

// job is the executor's view of the leased build.
func (w *Worker) job(ctx context.Context, t *remote.Task, log *logShipper) executor.Job {
	b := &v1alpha1.Build{ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: t.Build},
		Spec: v1alpha1.BuildSpec{Component: t.Component, Inputs: w.localInputs(t)}, Status: v1alpha1.BuildStatus{BuildNumber: t.BuildNumber}}
	c := &v1alpha1.Component{ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: t.Component},
		Spec: v1alpha1.ComponentSpec{Source: v1alpha1.ComponentSource{Git: &v1alpha1.GitSource{URL: t.GitURL}}}}
	progress := func(steps []v1alpha1.BuildStep) {
		go func() {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			_ = w.c.progress(pctx, t, remote.Progress{Generation: t.Generation, Steps: steps})
		}()
	}
	return executor.Job{Build: b, Component: c, Log: log, Progress: progress}
}

// local names a reference into the server's registry by the address the
// worker reaches it at.
func (w *Worker) local(t *remote.Task, ref string) string {
	if rest, ok := strings.CutPrefix(ref, t.Registry+"/"); ok && t.Registry != "" {
		return w.host + "/" + rest
	}
	return ref
}

// localPlan is the task's plan with the server's registry references
// naming the address the worker reaches it at.
func (w *Worker) localPlan(t *remote.Task) *pipeline.Plan {
	p := t.Plan
	for _, list := range [][]*pipeline.PlanTask{p.Tasks, p.Finally} {
		for _, pt := range list {
			for _, s := range pt.Steps {
				s.Image = w.local(t, s.Image)
			}
		}
	}
	for i := range p.Outputs {
		if c := p.Outputs[i].Image; c != nil {
			c.Base = w.local(t, c.Base)
		}
	}
	return p
}

func (w *Worker) localInputs(t *remote.Task) []v1alpha1.BuildInput {
	var out []v1alpha1.BuildInput
	for _, in := range t.Inputs {
		in.Repository = w.local(t, in.Repository)
		out = append(out, in)
	}
	return out
}
