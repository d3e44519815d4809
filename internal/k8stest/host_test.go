package k8stest

import (
	"slices"
	"testing"
)

func TestSplitRule(t *testing.T) {
	got := splitRule(`KUBE-FIREWALL ! -s 127.0.0.0/8 -m comment --comment "block incoming \"localnet\" connections" -j DROP`)
	want := []string{"KUBE-FIREWALL", "!", "-s", "127.0.0.0/8", "-m", "comment", "--comment", `block incoming "localnet" connections`, "-j", "DROP"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
}
