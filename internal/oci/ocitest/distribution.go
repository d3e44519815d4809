package ocitest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// DistributionVersion is the CNCF distribution registry StartDistribution
// runs.
const DistributionVersion = "v3.1.2"

// StartDistribution starts the CNCF distribution registry as a separate
// process on a loopback port, storing in a temporary directory, and
// returns its host:port (plain HTTP, no authentication). The binary is
// built once from the Go module proxy (go install …/cmd/registry@version)
// into the test cache ($KILN_TEST_CACHE, else the user's cache directory)
// and reused by later runs. It is stopped when the test ends.
func StartDistribution(t testing.TB) string {
	t.Helper()
	bin := distributionBinary(t)
	dir := t.TempDir()
	port := freePort(t)
	host := "127.0.0.1:" + strconv.Itoa(port)
	cfg := filepath.Join(dir, "config.yml")
	conf := fmt.Sprintf("version: 0.1\nlog: {level: warn}\nstorage:\n  filesystem: {rootdirectory: %s}\n  delete: {enabled: true}\nhttp:\n  addr: %s\n",
		filepath.Join(dir, "data"), host)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the distribution registry: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = logf.Close() })
	waitRegistry(t, host, logf.Name())
	return host
}

func waitRegistry(t testing.TB, host, log string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(log)
	t.Fatalf("the distribution registry on %s did not answer within 30s:\n%s", host, b)
}

// distributionBinary builds the registry into the test cache unless it is
// there already.
func distributionBinary(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(testCache(t), "distribution-"+DistributionVersion+"-"+runtime.GOOS+"-"+runtime.GOARCH)
	bin := filepath.Join(dir, "registry")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gobin, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(gobin)
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goTool, "install", "github.com/distribution/distribution/v3/cmd/registry@"+DistributionVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the distribution registry %s from the module proxy: %v\n%s", DistributionVersion, err, out)
	}
	// Rename is atomic: concurrent test processes each build, one wins.
	if err := os.Rename(filepath.Join(gobin, "registry"), bin); err != nil {
		t.Fatalf("caching the distribution registry: %v", err)
	}
	return bin
}

// testCache is $KILN_TEST_CACHE, else kiln-test in the user's cache.
func testCache(t testing.TB) string {
	if d := os.Getenv("KILN_TEST_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "kiln-test-cache")
	}
	return filepath.Join(d, "kiln-test")
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
