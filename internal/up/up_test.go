package up

import (
	"strings"
	"testing"

	"github.com/kilnbuild/kiln/internal/server"
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
		{[]string{"--buildroot-cache-size", "lots"}, `--buildroot-cache-size: "lots" is not a size: give bytes with a unit, e.g. 20GiB or 500MB, or 0 for no bound`},
		{[]string{"--buildroot-cache-size", "-5GiB"}, `--buildroot-cache-size: "-5GiB" is not a size`},
		{[]string{"--buildroot-cache-size", "20 furlongs"}, `--buildroot-cache-size: "20 furlongs" is not a size`},
	} {
		cmd := NewCommand()
		cmd.SetArgs(append(c.args, "--data-dir", t.TempDir()))
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}

func TestBuildrootCacheSize(t *testing.T) {
	for in, want := range map[string]int64{"20GiB": 20 << 30, "500MB": 500_000_000, "1.5 GiB": 3 << 29, "1024": 1024, "0": -1} {
		if got, err := parseCacheSize(in); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	if got, err := parseCacheSize(formatSize(server.DefaultBuildrootCacheSize)); err != nil || got != server.DefaultBuildrootCacheSize {
		t.Errorf("the default does not read back: %d, %v", got, err)
	}
}

// The environment variable is read like the flag, and checked alike.
func TestBuildrootCacheSizeFromEnv(t *testing.T) {
	t.Setenv("KILN_BUILDROOT_CACHE_SIZE", "big")
	cmd := NewCommand()
	cmd.SetArgs([]string{"--data-dir", t.TempDir()})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), `--buildroot-cache-size: "big" is not a size`) {
		t.Fatalf("got %v", err)
	}
}
