package k8stest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Pod network: a bridge made by the harness with the host's address on
// it; pods get addresses from the rest of the range and a default route
// through the host, which does not forward for them unless the host
// forwards already (reaching the host is what the tests need).
const (
	bridgeName = "kiln-k8s0"
	hostCIDR   = "10.251.0.1/24"
	// HostIP is the host's address on the pod network.
	HostIP     = "10.251.0.1"
	podSubnet  = "10.251.0.0/24"
	pauseImage = "kiln.test/pause:1"
)

func (c *Cluster) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = %[3]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[6]q
    conf_dir = %[7]q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[8]q
`, c.path("containerd/root"), c.path("containerd/state"), c.socket(), c.path("containerd/opt"),
		pauseImage, cniBinDir(), c.path("cni/conf"), c.path("containerd/certs.d"))
}

func cniBinDir() string {
	for _, d := range []string{"/usr/lib/cni", "/opt/cni/bin"} {
		if _, err := os.Stat(filepath.Join(d, "bridge")); err == nil {
			return d
		}
	}
	return "/usr/lib/cni"
}

func (c *Cluster) cniConfig() string {
	return fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "kiln-k8stest", "plugins": [{
  "type": "bridge", "bridge": %q, "isGateway": false, "ipMasq": false,
  "ipam": {"type": "host-local", "dataDir": %q,
    "ranges": [[{"subnet": %q, "rangeStart": "10.251.0.10", "gateway": %q}]],
    "routes": [{"dst": "0.0.0.0/0", "gw": %q}]}}]}
`, bridgeName, c.path("cni/ipam"), podSubnet, HostIP, HostIP)
}

func (c *Cluster) kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: '%s'
port: %d
readOnlyPort: 0
healthzPort: 0
tlsCertFile: %s
tlsPrivateKeyFile: %s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %s}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {"memory.available": "1Mi", "nodefs.available": "1%%", "imagefs.available": "1%%"}
containerRuntimeEndpoint: unix://%s
podLogsDir: %s
resolvConf: %s
serializeImagePulls: false
registerNode: true
`, HostIP, c.kubeletPort, c.pki.path("kubelet"+".crt"), c.pki.path("kubelet.key"), c.pki.caFile(), c.socket(),
		c.path("pod-logs"), c.path("resolv.conf"))
}

// registryHosts is containerd's hosts.toml for a registry: plain HTTP, or
// HTTPS trusting caFile.
func registryHosts(host, caFile string) string {
	if caFile == "" {
		return fmt.Sprintf("server = \"http://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", host, host)
	}
	return fmt.Sprintf("server = \"https://%s\"\n\n[host.\"https://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = %q\n", host, host, caFile)
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

func (c *Cluster) path(rel string) string { return filepath.Join(c.Dir, filepath.FromSlash(rel)) }

func (c *Cluster) socket() string { return c.path("containerd/containerd.sock") }

// hostsDirName is containerd's directory name for a registry host
// ("host:port" with the colon kept).
func hostsDirName(host string) string { return strings.TrimSpace(host) }
