package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// cosign runs the real cosign (pinned by the tool directive in go.mod:
// github.com/sigstore/cosign/v3/cmd/cosign v3.1.3) against a test
// registry, offline, with the test CA as its only root and the registry
// login in its own docker config.
type cosign struct {
	t   *testing.T
	bin string
	env []string
	key string // the public key file
}

var (
	cosignOnce sync.Once
	cosignBin  string
	cosignErr  error
)

// cosignPath builds (or finds in the build cache) `go tool cosign`.
func cosignPath() (string, error) {
	cosignOnce.Do(func() {
		var stderr bytes.Buffer
		cmd := exec.Command("go", "tool", "-n", "cosign")
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cosignBin, cosignErr = strings.TrimSpace(string(out)), err
		if err != nil {
			cosignErr = fmt.Errorf("%w\n%s", err, stderr.String())
		}
	})
	return cosignBin, cosignErr
}

// newCosign returns a cosign runner, skipping the test when cosign cannot
// be built (failing instead under CI or KILN_REQUIRE_COSIGN).
func newCosign(t *testing.T, tr *testRegistry, s *Signer) *cosign {
	t.Helper()
	c := maybeCosign(t, tr, s)
	if c == nil {
		t.Skipf("go tool cosign unavailable: %v", cosignErr)
	}
	return c
}

// maybeCosign is newCosign returning nil instead of skipping.
func maybeCosign(t *testing.T, tr *testRegistry, s *Signer) *cosign {
	t.Helper()
	bin, err := cosignPath()
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("KILN_REQUIRE_COSIGN") != "" {
			t.Fatalf("go tool cosign is required here: %v", err)
		}
		return nil
	}
	home := t.TempDir()
	dockerDir := filepath.Join(home, ".docker")
	must(t, os.MkdirAll(dockerDir, 0o700))
	auth := base64.StdEncoding.EncodeToString([]byte("kiln:" + testToken))
	cfg, err := json.Marshal(map[string]any{"auths": map[string]any{tr.host: map[string]string{"auth": auth}}})
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dockerDir, "config.json"), cfg, 0o600))
	key := filepath.Join(home, "k.pub")
	must(t, os.WriteFile(key, s.PublicKeyPEM(), 0o644))
	env := append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+dockerDir, "SSL_CERT_FILE="+tr.caFile,
		"TUF_ROOT="+filepath.Join(home, ".sigstore"), "SIGSTORE_NO_CACHE=true")
	return &cosign{t: t, bin: bin, env: env, key: key}
}

func (c *cosign) run(args ...string) (string, error) {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// verify runs `cosign verify --key`.
func (c *cosign) verify(ref string) (string, error) {
	return c.run("verify", "--key", c.key, "--insecure-ignore-tlog=true", "--new-bundle-format=false", ref)
}

// verifyAttestation runs `cosign verify-attestation --key --type typ`.
func (c *cosign) verifyAttestation(ref, typ string) (string, error) {
	return c.run("verify-attestation", "--key", c.key, "--type", typ,
		"--insecure-ignore-tlog=true", "--new-bundle-format=false", ref)
}

func (c *cosign) mustPass(out string, err error) string {
	c.t.Helper()
	if err != nil {
		c.t.Fatalf("cosign failed: %v\n%s", err, out)
	}
	return out
}

// mustFailWith also wants one of the reasons in cosign's output, so that a
// failure for an unrelated cause (network, config) does not count.
func (c *cosign) mustFailWith(what, out string, err error, reasons []string) {
	c.t.Helper()
	if err == nil {
		c.t.Fatalf("cosign accepted %s:\n%s", what, out)
	}
	for _, r := range reasons {
		if strings.Contains(out, r) {
			return
		}
	}
	if len(reasons) > 0 {
		c.t.Fatalf("cosign refused %s, but not for one of %q:\n%s", what, reasons, out)
	}
}

func TestCosignVerifiesPublishedEvidence(t *testing.T) {
	tr := startRegistry(t)
	s := newSigner(t)
	ref, _ := publishFor(t, tr, s, "team/greet:v1")
	c := newCosign(t, tr, s)
	for _, r := range []string{ref, tr.host + "/team/greet:v1"} {
		out := c.mustPass(c.verify(r))
		if !strings.Contains(out, splitRef(ref).Digest) {
			t.Fatalf("cosign verify output does not name the digest:\n%s", out)
		}
		out = c.mustPass(c.verifyAttestation(r, "slsaprovenance1"))
		if !strings.Contains(out, "The following checks were performed") {
			t.Fatalf("cosign verify-attestation output:\n%s", out)
		}
		c.mustPass(c.verifyAttestation(r, "spdxjson"))
	}
	// A control: another key is refused, so the checks above can fail.
	other := newCosign(t, tr, newSigner(t))
	out, err := other.verify(ref)
	other.mustFailWith("another key's signature", out, err, []string{"invalid signature"})
	out, err = other.verifyAttestation(ref, "slsaprovenance1")
	other.mustFailWith("another key's attestation", out, err, []string{"accepted signatures do not match threshold"})
}
