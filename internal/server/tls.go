package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLS material lives in DATA_DIR/tls. Kiln serves HTTPS only: bearer tokens
// must never cross a network in clear text (kubectl refuses to send them over
// plain HTTP anyway). On first start Kiln creates a private CA and a server
// certificate signed by it; clients trust the CA through the client config
// and kubeconfig. Operators can supply their own certificate instead.
const (
	caCertFile     = "ca.crt"
	caKeyFile      = "ca.key"
	serverCertFile = "server.crt"
	serverKeyFile  = "server.key"
)

// tlsMaterial is what the server needs to serve and clients need to trust.
type tlsMaterial struct {
	cert  tls.Certificate
	caPEM []byte
}

// loadOrCreateTLS returns the server certificate, generating a CA and a
// certificate valid for hosts when absent. An operator-supplied
// certFile/keyFile pair wins; its issuer is then trusted through the system
// roots (caPEM empty).
func loadOrCreateTLS(dir, certFile, keyFile string, hosts []string) (*tlsMaterial, error) {
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading --tls-cert/--tls-key: %w", err)
		}
		return &tlsMaterial{cert: cert}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	caCert, caKey, err := loadOrCreateCA(dir)
	if err != nil {
		return nil, err
	}
	cert, err := loadOrCreateServerCert(dir, caCert, caKey, hosts)
	if err != nil {
		return nil, err
	}
	return &tlsMaterial{cert: cert, caPEM: pemBlock("CERTIFICATE", caCert.Raw)}, nil
}

func loadOrCreateCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	if pair, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		c, err := x509.ParseCertificate(pair.Certificate[0])
		key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
		if err != nil || !ok {
			return nil, nil, fmt.Errorf("CA in %s is unusable: remove %s and %s to regenerate", dir, certPath, keyPath)
		}
		return c, key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("loading CA: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Kiln local CA", Organization: []string{"Kiln"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true,
	}
	return createCert(tmpl, nil, nil, certPath, keyPath)
}

func loadOrCreateServerCert(dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile)
	if pair, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && coversHosts(pair, hosts) {
		return pair, nil
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kiln"},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().AddDate(2, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if _, _, err := createCert(tmpl, ca, caKey, certPath, keyPath); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

// coversHosts reports whether an existing certificate is valid for every host
// and not close to expiry.
func coversHosts(pair tls.Certificate, hosts []string) bool {
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || time.Until(c.NotAfter) < 30*24*time.Hour {
		return false
	}
	for _, h := range hosts {
		if c.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// createCert signs tmpl with parent (self-signed when parent is nil) and
// writes the certificate and key.
func createCert(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating key: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate: %w", err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(keyPath, pemBlock("EC PRIVATE KEY", keyDER), 0o600); err != nil {
		return nil, nil, fmt.Errorf("writing %s: %w", keyPath, err)
	}
	if err := os.WriteFile(certPath, pemBlock("CERTIFICATE", der), 0o644); err != nil {
		return nil, nil, fmt.Errorf("writing %s: %w", certPath, err)
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// certHosts are the names the generated certificate is valid for: the
// loopback names, this machine's hostname, the listen host and extra SANs.
func certHosts(listenHost string, extra []string) []string {
	hosts := []string{"127.0.0.1", "::1", "localhost"}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	if listenHost != "" && listenHost != "0.0.0.0" && listenHost != "::" {
		hosts = append(hosts, listenHost)
	}
	seen := map[string]bool{}
	var out []string
	for _, h := range append(hosts, extra...) {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}
