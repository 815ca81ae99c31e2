package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File names WriteCertFiles uses in a node's TLS directory.
const (
	// CAFile is the CA certificate every node and client trusts.
	CAFile = "ca.pem"
	// CertFile is the node's certificate.
	CertFile = "cert.pem"
	// KeyFile is the node certificate's private key.
	KeyFile = "key.pem"
)

// CA is a private certificate authority (ECDSA P-256) for a cluster's
// TLS: it signs the nodes' certificates, and nodes and clients trust only
// it. Routes need nothing else: mutual TLS with a private CA is how nodes
// know each other.
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// NewCA creates a CA named name, valid from a minute ago for validity.
func NewCA(name string, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	tmpl, err := template(name, validity)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.MaxPathLenZero = true, true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// CertPEM is the CA's certificate: what nodes and clients trust.
func (ca *CA) CertPEM() []byte { return ca.certPEM }

// KeyPEM is the CA's private key. Keep it with the authority's keys,
// never on a node: whoever holds it can join the cluster's routes.
func (ca *CA) KeyPEM() ([]byte, error) { return keyPEM(ca.key) }

// Issue signs a certificate named name for hosts (IP addresses or DNS
// names: every address clients or peers dial), usable by a server and by a
// client (a node dials its routes with it), valid from a minute ago for
// validity. It returns the certificate and its private key in PEM.
func (ca *CA) Issue(name string, hosts []string, validity time.Duration) (certPEM, key []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, fmt.Errorf("certificate %q: name at least one host (IP address or DNS name)", name)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate key: %w", err)
	}
	tmpl, err := template(name, validity)
	if err != nil {
		return nil, nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &priv.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate %q: %w", name, err)
	}
	if key, err = keyPEM(priv); err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key, nil
}

// WriteCertFiles issues a certificate for name and hosts and writes it to
// dir (created 0700) with its key and the CA certificate, as CertFile,
// KeyFile (0600) and CAFile. It returns the files as TLSOptions.
func (ca *CA) WriteCertFiles(dir, name string, hosts []string, validity time.Duration) (*TLSOptions, error) {
	cert, key, err := ca.Issue(name, hosts, validity)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tls dir: %w", err)
	}
	o := &TLSOptions{Cert: filepath.Join(dir, CertFile), Key: filepath.Join(dir, KeyFile), CA: filepath.Join(dir, CAFile)}
	for path, data := range map[string][]byte{o.Cert: cert, o.Key: key, o.CA: ca.certPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	return o, nil
}

func template(name string, validity time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"Tocsin"}},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(validity),
	}, nil
}

func keyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}
