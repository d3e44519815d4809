package up

import (
	"strings"
	"testing"
)

// Bad flags fail before anything starts, saying what is accepted.
func TestFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-level", "loud"}, `--log-level "loud": expected debug, info, warn or error`},
		{[]string{"--log-format", "xml"}, `--log-format "xml": expected text or json`},
		{[]string{"--sandbox-host-ids", "nonsense"}, "--sandbox-host-ids: "},
	} {
		cmd := NewCommand()
		cmd.SetArgs(append(c.args, "--data-dir", t.TempDir()))
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
