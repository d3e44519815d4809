package k8stest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// NodeName is the cluster's one node; pods name it in spec.nodeName (there
// is no scheduler).
const NodeName = "kiln-k8stest"

// Cluster is a running single-node cluster.
type Cluster struct {
	// Dir holds everything of the cluster: certificates, data, logs.
	Dir string
	// Kubeconfig is an admin (system:masters) kubeconfig file.
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface

	bins        string
	pki         *pki
	host        hostState
	netns       map[string]bool
	lock        *os.File
	procs       []*exec.Cmd
	etcdURL     string
	apiPort     int
	kubeletPort int
}

// Start starts etcd, containerd, kube-apiserver and the kubelet from the
// binaries in bins, and waits until the node is Ready. Only one cluster
// runs on a machine at a time (the kubelet uses host-wide paths): Start
// waits for another one to stop. Stop tears it all down.
func Start(ctx context.Context, bins string) (c *Cluster, err error) {
	lock, err := lockMachine(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kiln-k8s-")
	if err != nil {
		lock.Close()
		return nil, err
	}
	c = &Cluster{Dir: dir, bins: bins, lock: lock, host: saveHost(), netns: listNetns()}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.logTails(), c.Stop())
		}
	}()
	if err := c.prepare(); err != nil {
		return c, err
	}
	for _, start := range []func(context.Context) error{c.startEtcd, c.startContainerd, c.startAPIServer, c.startKubelet} {
		if err := start(ctx); err != nil {
			return c, err
		}
	}
	return c, c.waitNodeReady(ctx)
}

// lockMachine takes the machine-wide cluster lock.
func lockMachine(ctx context.Context) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "kiln-k8stest.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			return f, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another test cluster to stop: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) prepare() error {
	for _, d := range []string{"pki", "etcd", "containerd/certs.d", "cni/conf", "cni/ipam", "pod-logs", "kubelet", "logs"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			return err
		}
	}
	var err error
	if c.pki, err = newPKI(c.path("pki")); err != nil {
		return err
	}
	if c.apiPort, err = freePort(); err != nil {
		return err
	}
	if c.kubeletPort, err = freePort(); err != nil {
		return err
	}
	if err := c.issueCerts(); err != nil {
		return err
	}
	if err := makeBridge(); err != nil {
		return err
	}
	files := map[string]string{
		"containerd/config.toml":    c.containerdConfig(),
		"cni/conf/10-kiln.conflist": c.cniConfig(),
		"kubelet/config.yaml":       c.kubeletConfig(),
		"resolv.conf":               "nameserver " + HostIP + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(c.path(name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) issueCerts() error {
	lo := []net.IP{net.ParseIP("127.0.0.1")}
	steps := []error{
		c.pki.issue("apiserver", "kube-apiserver", nil, append(lo, net.ParseIP("10.96.0.1")), []string{"localhost", "kubernetes", "kubernetes.default.svc"}),
		c.pki.issue("admin", "kiln-admin", []string{"system:masters"}, nil, nil),
		c.pki.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil),
		c.pki.issue("kubelet", "system:node:"+NodeName, []string{"system:nodes"}, append(lo, net.ParseIP(HostIP)), []string{NodeName, "localhost"}),
		c.pki.serviceAccountKey(),
	}
	if err := errors.Join(steps...); err != nil {
		return err
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", c.apiPort)
	c.Kubeconfig = c.path("admin.kubeconfig")
	return errors.Join(c.pki.kubeconfig(c.Kubeconfig, server, "admin"),
		c.pki.kubeconfig(c.path("kubelet/kubeconfig"), server, "kubelet"))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// makeBridge creates the pod network's bridge with the host's address.
func makeBridge() error {
	deleteLink(bridgeName)
	for _, args := range [][]string{
		{"link", "add", bridgeName, "type", "bridge"},
		{"addr", "add", hostCIDR, "dev", bridgeName},
		{"link", "set", bridgeName, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// start runs a cluster process, its output in logs/<name>.log.
func (c *Cluster) start(name string, args ...string) error {
	log, err := os.Create(c.path("logs/" + name + ".log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = log, log, c.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	c.procs = append(c.procs, cmd)
	return nil
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	client, err := freePort()
	if err != nil {
		return err
	}
	peer, err := freePort()
	if err != nil {
		return err
	}
	cu, pu := fmt.Sprintf("http://127.0.0.1:%d", client), fmt.Sprintf("http://127.0.0.1:%d", peer)
	c.etcdURL = cu
	err = c.start("etcd", filepath.Join(c.bins, "etcd"), "--data-dir", c.path("etcd"), "--name", "default",
		"--listen-client-urls", cu, "--advertise-client-urls", cu, "--listen-peer-urls", pu,
		"--initial-advertise-peer-urls", pu, "--initial-cluster", "default="+pu, "--unsafe-no-fsync")
	if err != nil {
		return err
	}
	return waitFor(ctx, "etcd to be healthy", func() error { return httpOK(http.DefaultClient, cu+"/health") })
}

func (c *Cluster) startContainerd(ctx context.Context) error {
	if err := c.start("containerd", "containerd", "--config", c.path("containerd/config.toml")); err != nil {
		return err
	}
	if err := waitFor(ctx, "containerd's socket", func() error { _, err := os.Stat(c.socket()); return err }); err != nil {
		return err
	}
	tar := c.path("pause.tar")
	if err := writePauseImage(tar); err != nil {
		return err
	}
	return waitFor(ctx, "the pause image to be imported", func() error {
		out, err := exec.CommandContext(ctx, "ctr", "-a", c.socket(), "-n", "k8s.io", "images", "import", tar).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ctr images import: %v: %s", err, out)
		}
		return nil
	})
}

func (c *Cluster) startAPIServer(ctx context.Context) error {
	p := c.pki.path
	err := c.start("kube-apiserver", filepath.Join(c.bins, "kube-apiserver"),
		"--etcd-servers", c.etcdURL, "--bind-address", "127.0.0.1", "--advertise-address", HostIP, "--endpoint-reconciler-type", "none",
		"--secure-port", fmt.Sprint(c.apiPort), "--cert-dir", c.path("pki/serving"),
		"--tls-cert-file", p("apiserver.crt"), "--tls-private-key-file", p("apiserver.key"),
		"--client-ca-file", c.pki.caFile(), "--service-cluster-ip-range", "10.96.0.0/24",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", p("sa.pub"), "--service-account-signing-key-file", p("sa.key"),
		"--authorization-mode", "Node,RBAC", "--enable-priority-and-fairness=false",
		"--kubelet-client-certificate", p("apiserver-kubelet-client.crt"), "--kubelet-client-key", p("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority", c.pki.caFile(), "--kubelet-preferred-address-types", "InternalIP")
	if err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 100, 200
	c.Config = cfg
	if c.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	return waitFor(ctx, "kube-apiserver to be ready", func() error {
		_, err := c.Client.CoreV1().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

func (c *Cluster) startKubelet(ctx context.Context) error {
	return c.start("kubelet", filepath.Join(c.bins, "kubelet"), "--config", c.path("kubelet/config.yaml"),
		"--kubeconfig", c.path("kubelet/kubeconfig"), "--root-dir", c.path("kubelet/root"),
		"--hostname-override", NodeName, "--node-ip", HostIP, "--cert-dir", c.path("kubelet/pki"))
}

func (c *Cluster) waitNodeReady(ctx context.Context) error {
	return waitFor(ctx, "node "+NodeName+" to be Ready", func() error {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return errors.New("not Ready yet")
	})
}

// Namespace creates a namespace with what the missing controllers would
// make: the default ServiceAccount and the kube-root-ca.crt ConfigMap.
func (c *Cluster) Namespace(ctx context.Context, name string) error {
	ca, err := os.ReadFile(c.pki.caFile())
	if err != nil {
		return err
	}
	objs := []func() error{
		func() error {
			_, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := c.Client.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := c.Client.CoreV1().ConfigMaps(name).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"},
				Data: map[string]string{"ca.crt": string(ca)}}, metav1.CreateOptions{})
			return err
		},
	}
	for _, create := range objs {
		if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
	}
	return nil
}

// TrustRegistry lets the node pull from a registry: plain HTTP when caFile
// is empty, else HTTPS verified with caFile.
func (c *Cluster) TrustRegistry(host, caFile string) error {
	dir := c.path("containerd/certs.d/" + hostsDirName(host))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "hosts.toml"), []byte(registryHosts(host, caFile)), 0o644)
}

func waitFor(ctx context.Context, what string, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func httpOK(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
