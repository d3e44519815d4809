package client

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Config is what a client needs to talk to a Kiln server. It is stored as
// YAML (see WriteConfig) by `kiln up` and `kiln config`.
type Config struct {
	// Server is the base URL, e.g. http://127.0.0.1:7070.
	Server string `json:"server"`
	// Token is sent as "Authorization: Bearer <token>".
	Token string `json:"token,omitempty"`
	// Namespace is the current namespace used when none is given.
	Namespace string `json:"namespace,omitempty"`
	// CertificateAuthorityData is the PEM of the CA that signed the
	// server's certificate (base64 in the file, like kubeconfig's
	// certificate-authority-data). It is trusted besides the system roots.
	CertificateAuthorityData []byte `json:"certificateAuthorityData,omitempty"`
	// CertificateAuthority is a PEM file with that CA. LoadConfig makes a
	// relative path absolute (relative to the config file), and when neither
	// CA field is set but tls/ca.crt exists beside the config file (the data
	// dir of `kiln up`), it points this field at that file.
	CertificateAuthority string `json:"certificateAuthority,omitempty"`
	// InsecureSkipTLSVerify turns off server certificate checks; for tests.
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify,omitempty"`
}

// DataDirCAPath is where `kiln up` keeps its CA, relative to its data dir.
var DataDirCAPath = filepath.Join("tls", "ca.crt")

// EnvConfig names the environment variable holding a config file path.
const EnvConfig = "KILN_CONFIG"

// LocalConfigPath is where `kiln up` writes the client config, relative to
// the directory it was started in (its default data dir is ./.kiln).
var LocalConfigPath = filepath.Join(".kiln", "client.yaml")

// ErrNoConfig is returned by FindConfig when no config file exists.
var ErrNoConfig = errors.New("no Kiln server configured: start one with `kiln up` " +
	"(it writes ./.kiln/client.yaml) or pass --server and --token")

// DefaultConfigPaths returns the config files looked up, in order, when no
// --config flag is given: $KILN_CONFIG, ./.kiln/client.yaml and
// $XDG_CONFIG_HOME/kiln/config.yaml (default ~/.config/kiln/config.yaml).
func DefaultConfigPaths() []string {
	var paths []string
	if p := os.Getenv(EnvConfig); p != "" {
		paths = append(paths, p)
	}
	paths = append(paths, LocalConfigPath)
	if p := UserConfigPath(); p != "" {
		paths = append(paths, p)
	}
	return paths
}

// UserConfigPath returns $XDG_CONFIG_HOME/kiln/config.yaml, defaulting to
// ~/.config/kiln/config.yaml; empty when neither can be determined.
func UserConfigPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "kiln", "config.yaml")
}

// FindConfig loads the config at explicit when it is non-empty (it must
// exist), else the first existing file of DefaultConfigPaths. It returns the
// path it loaded. When nothing exists the error wraps ErrNoConfig.
func FindConfig(explicit string) (*Config, string, error) {
	if explicit != "" {
		cfg, err := LoadConfig(explicit)
		return cfg, explicit, err
	}
	for _, p := range DefaultConfigPaths() {
		cfg, err := LoadConfig(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return cfg, p, err
	}
	return nil, "", ErrNoConfig
}

// LoadConfig reads a YAML config file. A missing file yields an error
// satisfying errors.Is(err, fs.ErrNotExist).
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("config file %s does not exist (write one with `kiln config set-server URL`, or start a server with `kiln up`): %w", path, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("read config: %w", err)
	}
	var cfg Config
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("config file %s is not valid (expected keys server, token, namespace, certificateAuthority, certificateAuthorityData, insecureSkipTLSVerify): %w", path, err)
	}
	cfg.Server = strings.TrimRight(strings.TrimSpace(cfg.Server), "/")
	resolveCA(&cfg, path)
	return &cfg, nil
}

// resolveCA anchors a relative CA path at the config file's directory, or
// finds the CA `kiln up` keeps beside its client config.
func resolveCA(cfg *Config, path string) {
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return
	}
	switch {
	case cfg.CertificateAuthority != "":
		if !filepath.IsAbs(cfg.CertificateAuthority) {
			cfg.CertificateAuthority = filepath.Join(dir, cfg.CertificateAuthority)
		}
	case len(cfg.CertificateAuthorityData) == 0 && !cfg.InsecureSkipTLSVerify:
		if ca := filepath.Join(dir, DataDirCAPath); fileExists(ca) {
			cfg.CertificateAuthority = ca
		}
	}
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// CAPEM returns the PEM of the configured CA (CertificateAuthorityData,
// then the CertificateAuthority file), or nil when none is configured.
func (c *Config) CAPEM() ([]byte, error) {
	if len(c.CertificateAuthorityData) > 0 {
		return c.CertificateAuthorityData, nil
	}
	if c.CertificateAuthority == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.CertificateAuthority)
	if err != nil {
		return nil, fmt.Errorf("read the server CA: %w (fix certificateAuthority in the config or --certificate-authority)", err)
	}
	return pem, nil
}

// WriteConfig writes cfg as YAML to path with mode 0600, atomically (a
// temporary file renamed over path). Parent directories are created.
func WriteConfig(path string, cfg *Config) error {
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.tmp")
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}
