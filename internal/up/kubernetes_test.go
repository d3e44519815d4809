package up

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestExecutorFlags(t *testing.T) {
	for _, c := range []struct {
		args    []string
		wantErr string
		kube    bool
	}{
		{nil, "", false},
		{[]string{"--executor", "kubernetes", "--kubeconfig", "k", "--namespace", "builds"}, "", true},
		{[]string{"--executor", "kubernetes", "--kubeconfig", "k"}, "needs --namespace", false},
		{[]string{"--namespace", "builds"}, "need --executor kubernetes", false},
		{[]string{"--executor", "docker"}, "want local, remote, local+remote or kubernetes", false},
		{[]string{"--executor", "bubblewrap"}, "", false},
		{[]string{"--executor", "local+remote"}, "", false},
	} {
		var k kubeFlags
		var executor string
		fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
		registerExecutor(fs, &executor)
		k.register(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := k.config(&executor)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%v: error %v, want %q", c.args, err, c.wantErr)
			}
			continue
		}
		if err != nil || (cfg != nil) != c.kube {
			t.Errorf("%v: %+v %v", c.args, cfg, err)
		}
		if executor == "kubernetes" || executor == "bubblewrap" {
			t.Errorf("%v: executor left as %q, want it mapped to local dispatch", c.args, executor)
		}
		if c.kube && (cfg.Kubeconfig != "k" || cfg.Namespace != "builds") {
			t.Errorf("%v: %+v", c.args, cfg)
		}
	}
}

// TestUpCommandBuilds guards against two flags of one name (pflag panics
// when `kiln up` defines --executor twice).
func TestUpCommandBuilds(t *testing.T) {
	cmd := NewCommand()
	if err := cmd.ParseFlags([]string{"--executor", "kubernetes", "--namespace", "b"}); err != nil {
		t.Fatal(err)
	}
	if got := cmd.Flags().Lookup("executor").Value.String(); got != "kubernetes" {
		t.Errorf("--executor = %q", got)
	}
}
