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
		{[]string{"--executor", "remote"}, "", false},
		{[]string{"--executor", "local+remote"}, "", false},
		{[]string{"--executor", "remote", "--namespace", "builds"}, "need --executor kubernetes", false},
		{[]string{"--executor", "docker"}, "want local, remote, local+remote or kubernetes", false},
	} {
		var k kubeFlags
		fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
		k.register(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		executor, cfg, err := k.config()
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%v: error %v, want %q", c.args, err, c.wantErr)
			}
			continue
		}
		want := "local"
		if len(c.args) > 1 && c.args[0] == "--executor" && c.args[1] != "kubernetes" {
			want = c.args[1]
		}
		if err != nil || (cfg != nil) != c.kube || executor != want {
			t.Errorf("%v: %+v %v", c.args, cfg, err)
		}
		if c.kube && (cfg.Kubeconfig != "k" || cfg.Namespace != "builds") {
			t.Errorf("%v: %+v", c.args, cfg)
		}
	}
}
