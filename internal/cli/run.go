package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kilnbuild/kiln/internal/pipeline"
)

type runOptions struct {
	g           *globals
	files       []string
	params      []string
	workspace   string
	concurrency int
	printPlan   bool
	images      imageOptions
}

// newRunCommand returns `kiln run`: load a pipeline, compile it and run it
// on this machine in the sandbox.
func newRunCommand(g *globals) *cobra.Command {
	o := &runOptions{g: g}
	cmd := &cobra.Command{
		Use:   "run [-f PIPELINE.yaml]... [--param NAME=VALUE]... [DIR]",
		Short: "Run a pipeline on this machine, as a Kiln server would",
		Long: "Load the pipeline of the source directory DIR (default: the current directory) from\n" +
			".kiln/pipeline.yaml or .tekton/*.yaml, or from the -f files; compile it; and run it here,\n" +
			"every step in the sandbox: prefetch steps first with network, the rest without.\n\n" +
			"DIR is copied into the run's \"source\" workspace, so the run cannot change it. Step output is\n" +
			"printed with a [task/step] prefix, then a summary; the run's directory (--workspace, default a\n" +
			"new temporary directory) is kept and holds the outputs. The exit status is 1 when the\n" +
			"pipeline fails.\n\n" +
			"Step images other than \"host\" are pulled from their registry (anonymously, or with the\n" +
			"credentials of your Docker or Podman config), or read from a local OCI image layout\n" +
			"(image: oci-layout:PATH[@DIGEST]), and unpacked into --image-cache, as a Kiln server does.\n" +
			"See docs/pipelines.md.",
		Example: "  kiln run\n  kiln run --param packages='[\"./cmd/greet\"]' ~/src/greet\n" +
			"  kiln run -f .tekton/push.yaml -f .tekton/tasks.yaml\n  kiln run --plan   # print the compiled plan, run nothing",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return o.run(cmd, dir)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "pipeline file (Tasks, a Pipeline or a PipelineRun); repeatable (default: DIR's .kiln/pipeline.yaml or .tekton/)")
	f.StringArrayVarP(&o.params, "param", "p", nil, "pipeline param NAME=VALUE; a JSON array or object for array and object params; repeatable")
	f.StringVar(&o.workspace, "workspace", "", "directory of the run, kept afterwards (default: a new temporary directory)")
	f.IntVar(&o.concurrency, "concurrency", 0, "tasks run at once (default: the number of CPUs)")
	f.BoolVar(&o.printPlan, "plan", false, "print the compiled plan as JSON and exit without running")
	f.StringVar(&o.images.caFile, "ca-file", "", "PEM file of CA certificates to trust for image registries, besides the system's")
	f.StringVar(&o.images.cacheDir, "image-cache", "", "directory step images are unpacked into (default $XDG_CACHE_HOME/kiln/images)")
	return cmd
}

func (o *runOptions) run(cmd *cobra.Command, dir string) error {
	plan, src, err := o.compile(dir)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.printPlan {
		return printPlan(out, plan)
	}
	ropts, done, err := o.runOptions(cmd.Context(), dir, out)
	if err != nil {
		return err
	}
	defer done()
	fmt.Fprintf(out, "pipeline %s from %s, plan %s\nworkspace %s\n", plan.Pipeline, describeSource(src), plan.Digest(), ropts.WorkspaceDir)
	res, err := pipeline.Run(cmd.Context(), plan, ropts)
	if err != nil {
		return err
	}
	printSummary(out, res)
	return res.Err()
}

// runOptions sets up the sandbox, image resolver and workspace of a run;
// done releases the sandbox.
func (o *runOptions) runOptions(ctx context.Context, dir string, out io.Writer) (pipeline.RunOptions, func(), error) {
	resolve, err := o.imageResolver()
	if err != nil {
		return pipeline.RunOptions{}, nil, err
	}
	runner, err := o.g.opts.newRunner()
	if err != nil {
		return pipeline.RunOptions{}, nil, fmt.Errorf("kiln run needs a sandbox to run steps in: %w", err)
	}
	done := func() {}
	if c, ok := runner.(io.Closer); ok {
		done = func() { c.Close() }
	}
	ws, err := o.workspaceDir()
	if err != nil {
		done()
		return pipeline.RunOptions{}, nil, err
	}
	return pipeline.RunOptions{
		Runner: runner, WorkspaceDir: ws, SourceDir: dir, Log: out, Concurrency: o.concurrency,
		ImageResolver: func(image string) (string, string, error) { return resolve(ctx, image) },
	}, done, nil
}

// imageResolver is the root command's, else the registry and layout one
// the flags configure.
func (o *runOptions) imageResolver() (ImageResolver, error) {
	if o.g.opts.resolveImage != nil {
		return o.g.opts.resolveImage, nil
	}
	return o.images.resolver()
}

// compile loads the pipeline and compiles it with the --param values.
func (o *runOptions) compile(dir string) (*pipeline.Plan, pipeline.Source, error) {
	var p *pipeline.Pipeline
	var src pipeline.Source
	var err error
	if len(o.files) > 0 {
		p, src, err = pipeline.ParseFiles(o.files...)
	} else {
		p, src, err = pipeline.LoadFromRepo(dir)
	}
	if err != nil {
		return nil, src, err
	}
	params, err := parseParams(o.params)
	if err != nil {
		return nil, src, err
	}
	plan, err := pipeline.Compile(p, params, pipeline.Context{PipelineRunName: p.Name + "-local", Namespace: "local"})
	return plan, src, err
}

func parseParams(kvs []string) (map[string]any, error) {
	params := map[string]any{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: expected NAME=VALUE", kv)
		}
		params[k] = v
	}
	return params, nil
}

func (o *runOptions) workspaceDir() (string, error) {
	if o.workspace == "" {
		dir, err := os.MkdirTemp("", "kiln-run-")
		if err != nil {
			return "", fmt.Errorf("creating the run's directory: %w", err)
		}
		return dir, nil
	}
	if err := os.MkdirAll(o.workspace, 0o755); err != nil {
		return "", fmt.Errorf("creating the run's directory: %w", err)
	}
	return filepath.Abs(o.workspace)
}

func describeSource(src pipeline.Source) string {
	s := strings.Join(src.Files, ", ")
	if src.PipelineRun != "" {
		s += " (PipelineRun " + src.PipelineRun + ")"
	}
	return s
}

func printPlan(w io.Writer, plan *pipeline.Plan) error {
	j, err := plan.JSON()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, j, "", "  "); err != nil {
		return err
	}
	buf.WriteString("\n")
	_, err = buf.WriteTo(w)
	return err
}

// printSummary prints a row per step (a row per task that ran no step),
// then the outputs and the outcome.
func printSummary(w io.Writer, res *pipeline.RunResult) {
	fmt.Fprintln(w)
	tw := newTabWriter(w)
	fmt.Fprintln(tw, "TASK\tSTEP\tSTATUS\tDURATION\tREASON")
	for _, t := range res.Tasks {
		name := t.Name
		if t.Finally {
			name += " (finally)"
		}
		if !ranSteps(t) {
			fmt.Fprintf(tw, "%s\t-\t%s\t-\t%s\n", name, t.Status, t.Reason)
			continue
		}
		for _, s := range t.Steps {
			step := s.Name
			if s.Prefetch {
				step += " (prefetch)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, step, s.Status, stepDuration(s), s.Reason)
		}
	}
	_ = tw.Flush()
	for _, img := range res.Images {
		if img.Digest != "" {
			fmt.Fprintf(w, "image %s: %s\n", img.Image, img.Digest)
		}
	}
	for _, o := range res.Outputs {
		printOutput(w, o)
	}
	outcome := strings.ToLower(res.Status)
	if res.Status == pipeline.StatusTimedOut {
		outcome = "timed out"
	}
	fmt.Fprintf(w, "pipeline %s %s in %s\n", res.Pipeline, outcome, res.End.Sub(res.Start).Round(time.Millisecond))
}

func ranSteps(t *pipeline.TaskRun) bool {
	for _, s := range t.Steps {
		if s.Status != pipeline.StatusNotRun {
			return true
		}
	}
	return false
}

func stepDuration(s *pipeline.StepRun) string {
	if s.Start.IsZero() {
		return "-"
	}
	return time.Duration(s.Duration).Round(time.Millisecond).String()
}

func printOutput(w io.Writer, o pipeline.OutputResult) {
	switch o.Kind {
	case pipeline.OutputImage:
		fmt.Fprintf(w, "image output %s: a Kiln server assembles it from %s (kiln run does not)\n", o.Name, o.Path)
	default:
		fmt.Fprintf(w, "output: %s\n", o.Path)
	}
}
