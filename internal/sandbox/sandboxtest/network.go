package sandboxtest

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kilnbuild/kiln/internal/sandbox"
)

const served = "kiln-served-this"

// hostServer is an HTTP server on the host that counts its requests.
type hostServer struct {
	port string
	hits atomic.Int64
}

func startHostServer(t *testing.T, addr string) *hostServer {
	t.Helper()
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	h := &hostServer{}
	_, h.port, _ = net.SplitHostPort(l.Addr().String())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h.hits.Add(1)
		fmt.Fprint(w, served)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return h
}

// fetch runs busybox wget against url, with or without network. (Its -T
// option crashes Debian 12's busybox; the step's wall time bounds it.)
func (s suite) fetch(t *testing.T, url string, network bool) out {
	t.Helper()
	return s.run(t, sandbox.Step{
		Command: []string{"busybox", "wget", "-q", "-O", "-", url},
		Network: network,
	})
}

// testNoNetworkLoopback: a listener on the host's 127.0.0.1 is unreachable
// without Network, and reachable with it.
func testNoNetworkLoopback(t *testing.T, s suite) {
	h := startHostServer(t, "127.0.0.1:0")
	url := "http://127.0.0.1:" + h.port + "/"
	o := s.fetch(t, url, false)
	mustFail(t, "reaching the host's loopback", o)
	if h.hits.Load() != 0 || strings.Contains(o.Stdout, served) {
		t.Fatalf("the step reached the host's loopback listener: %s", o)
	}
	o = s.fetch(t, url, true)
	mustSucceed(t, "reaching the host's loopback with Network", o)
	if o.Stdout != served || h.hits.Load() != 1 {
		t.Fatalf("with Network: got %q, %d hits", o.Stdout, h.hits.Load())
	}
}

// testNoNetworkAnyAddress: without Network no address is reachable: not the
// host's own addresses, not the outside world (TEST-NET-1).
func testNoNetworkAnyAddress(t *testing.T, s suite) {
	h := startHostServer(t, "0.0.0.0:0")
	addrs := append(hostAddrs(t), "192.0.2.1")
	for _, a := range addrs {
		o := s.fetch(t, "http://"+a+":"+h.port+"/", false)
		mustFail(t, "reaching "+a, o)
	}
	if h.hits.Load() != 0 {
		t.Fatalf("the step reached the host %d times", h.hits.Load())
	}
	if a := hostAddrs(t); len(a) > 0 {
		o := s.fetch(t, "http://"+a[0]+":"+h.port+"/", true)
		if o.Stdout != served {
			t.Fatalf("with Network, %s: %s", a[0], o)
		}
	}
}

// hostAddrs lists the host's non-loopback IPv4 addresses.
func hostAddrs(t *testing.T) []string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			out = append(out, n.IP.String())
		}
	}
	return out
}

// testLoopbackInside: the step's own loopback is up and usable.
func testLoopbackInside(t *testing.T, s suite) {
	o := s.sh(t, `mkdir /tmp/www && echo inside > /tmp/www/f &&
busybox httpd -p 127.0.0.1:8080 -h /tmp/www &&
for i in 1 2 3 4 5 6 7 8 9 10; do
  busybox wget -q -O - http://127.0.0.1:8080/f && exit 0
  sleep 0.2
done; exit 1`)
	mustSucceed(t, "serving and fetching on the sandbox's loopback", o)
	if o.Stdout != "inside\n" {
		t.Fatalf("fetched %q from the sandbox's loopback", o.Stdout)
	}
}
