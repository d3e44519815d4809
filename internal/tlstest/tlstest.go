// Package tlstest is the TLS certificate of test servers: one self-signed
// ECDSA P-256 certificate for 127.0.0.1 and localhost, made once per test
// binary and shared, so that one CA file serves every test server (and
// cosign). ECDSA, like Kiln's own CA: RSA handshakes would dominate
// benchmarks.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var (
	certOnce sync.Once
	cert     tls.Certificate
	certErr  error
)

// Cert is the certificate, with its key.
func Cert(t testing.TB) tls.Certificate {
	t.Helper()
	certOnce.Do(func() { cert, certErr = newCert() })
	if certErr != nil {
		t.Fatalf("making the test certificate: %v", certErr)
	}
	return cert
}

func newCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kiln test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, err
}

// Pool trusts Cert.
func Pool(t testing.TB) *x509.CertPool {
	t.Helper()
	c, err := x509.ParseCertificate(Cert(t).Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool
}

// CAFile writes Cert as PEM into a temp file (SSL_CERT_FILE for tools).
func CAFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: Cert(t).Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
