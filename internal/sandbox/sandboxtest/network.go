package sandboxtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// testNoNetworkLoopback: a listener on the host's 127.0.0.1 is unreachable,
// without Network and with it: a network step has its own namespace, and
// neither its loopback nor its gateway leads to the host's loopback. The
// same step reaches a listener on the host's other addresses, so the
// failures are isolation, not a broken network.
func testNoNetworkLoopback(t *testing.T, s suite) {
	h := startHostServer(t, "127.0.0.1:0")
	url := "http://127.0.0.1:" + h.port + "/"
	mustFail(t, "reaching the host's loopback", s.fetch(t, url, false))
	mustFail(t, "reaching the host's loopback with Network", s.fetch(t, url, true))
	o := s.run(t, sandbox.Step{Network: true, Command: []string{"sh", "-c",
		`gw=$(busybox ip route | busybox awk '/^default/ {print $3}'); echo "gateway $gw" >&2; test -n "$gw" &&
busybox wget -q -O - "http://$gw:` + h.port + `/"`}})
	mustFail(t, "reaching the host's loopback through the gateway", o)
	if h.hits.Load() != 0 || strings.Contains(o.Stdout, served) {
		t.Fatalf("the step reached the host's loopback listener (%d hits): %s", h.hits.Load(), o)
	}
	outside := startHostServer(t, "0.0.0.0:0")
	addrs := hostAddrs(t)
	if len(addrs) == 0 {
		t.Fatal("the host has no non-loopback address to prove outbound connectivity with")
	}
	o = s.fetch(t, "http://"+addrs[0]+":"+outside.port+"/", true)
	if o.Stdout != served {
		t.Fatalf("with Network, the host's address %s: %s", addrs[0], o)
	}
}

// testNoNetworkAnyAddress: without Network no address is reachable: not the
// host's own addresses, not the outside world (TEST-NET-1). With Network,
// outbound connections work (to a non-loopback address of the host: the
// test needs no internet).
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
	a := hostAddrs(t)
	if len(a) == 0 {
		t.Fatal("the host has no non-loopback address to prove outbound connectivity with")
	}
	o := s.fetch(t, "http://"+a[0]+":"+h.port+"/", true)
	if o.Stdout != served || h.hits.Load() != 1 {
		t.Fatalf("with Network, %s: %s", a[0], o)
	}
}

// testAbstractSocketHidden: abstract unix sockets live in the network
// namespace; a step, with Network or without, has its own and sees none of
// the host's (listed in /proc/net/unix, which the host's shows).
func testAbstractSocketHidden(t *testing.T, s suite) {
	name := fmt.Sprintf("kiln-sandboxtest-%d", time.Now().UnixNano())
	l, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if b, err := os.ReadFile("/proc/net/unix"); err != nil || !strings.Contains(string(b), "@"+name) {
		t.Fatalf("the host's /proc/net/unix does not list @%s (%v): the test proves nothing", name, err)
	}
	hostNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for _, network := range []bool{false, true} {
		o := s.run(t, sandbox.Step{Network: network, Command: []string{"sh", "-c",
			"busybox readlink /proc/self/ns/net; busybox head -1 /proc/net/unix; busybox grep -c " + shellQuote("@"+name) + " /proc/net/unix"}})
		lines := strings.Split(strings.TrimSpace(o.Stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[1], "Num") || lines[2] != "0" {
			t.Fatalf("Network %v: the step sees the host's abstract socket or no /proc/net/unix: %s", network, o)
		}
		if lines[0] == hostNS {
			t.Fatalf("Network %v: the step runs in the host's network namespace %s", network, hostNS)
		}
	}
}

// dnsNames are names a host with DNS likely resolves.
var dnsNames = []string{"deb.debian.org", "proxy.golang.org", "github.com", "example.com"}

// testNetworkDNS: a network step resolves names through DNS (resolv.conf
// names a resolver it can reach); a step without Network has no
// resolv.conf of the host's.
func testNetworkDNS(t *testing.T, s suite) {
	name := resolvableName(t)
	o := s.run(t, sandbox.Step{Network: true, Command: []string{"sh", "-c",
		"busybox cat /etc/resolv.conf; busybox nslookup " + name}})
	mustSucceed(t, "resolving "+name+" in a network step", o)
	if !strings.Contains(o.Stdout, "nameserver ") || !strings.Contains(o.Stdout, "Name:") {
		t.Fatalf("resolving %s: %s", name, o)
	}
	for _, l := range strings.Split(o.Stdout, "\n") {
		if ns, ok := strings.CutPrefix(l, "nameserver "); ok && strings.HasPrefix(ns, "127.") {
			t.Fatalf("the step's resolver %s is a loopback address it cannot reach", ns)
		}
	}
}

// resolvableName returns a name the host resolves through DNS (not
// /etc/hosts), or skips: without DNS there is nothing to prove.
func resolvableName(t *testing.T) string {
	hosts, _ := os.ReadFile("/etc/hosts")
	for _, n := range dnsNames {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		addrs, err := net.DefaultResolver.LookupHost(ctx, n)
		cancel()
		if err == nil && len(addrs) > 0 && !strings.Contains(string(hosts), n) {
			return n
		}
	}
	t.Skipf("the host resolves none of %v through DNS", dnsNames)
	return ""
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
