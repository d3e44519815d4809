package ocitest_test

import (
	"testing"

	"github.com/kilnbuild/kiln/internal/oci"
	"github.com/kilnbuild/kiln/internal/oci/ocitest"
)

// TestStartDistribution starts the real registry process and asks it for
// a repository it does not have.
func TestStartDistribution(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the distribution registry")
	}
	host := ocitest.StartDistribution(t)
	if _, err := oci.Resolve(t.Context(), host+"/none/such:tag", oci.Remote{PlainHTTP: true}); err == nil {
		t.Fatal("resolving a missing tag succeeded")
	}
}
