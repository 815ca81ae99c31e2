package server

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tocsin-project/tocsin/broker"
)

// devCertValidity is how long a dev cluster's CA and certificate last.
const devCertValidity = 365 * 24 * time.Hour

// devTLSHosts are the names a dev cluster's certificate is valid for.
var devTLSHosts = []string{"127.0.0.1", "localhost"}

// DevTLSCA is where a dev cluster with TLS keeps the CA certificate its
// clients must trust (--tls-ca), inside its data dir.
func DevTLSCA(dataDir string) string {
	return filepath.Join(dataDir, "tls", broker.CAFile)
}

// prepareDevTLS returns the dev cluster's TLS files in <data>/tls: a local
// CA (its key is not kept) and one certificate for 127.0.0.1 and
// localhost, which every node uses for clients and routes. Files from an
// earlier run are kept while valid for another day, so clients keep
// trusting the same ca.pem.
func prepareDevTLS(dataDir string) (*broker.TLSOptions, error) {
	dir := filepath.Dir(DevTLSCA(dataDir))
	files := &broker.TLSOptions{Cert: filepath.Join(dir, broker.CertFile), Key: filepath.Join(dir, broker.KeyFile), CA: DevTLSCA(dataDir)}
	if pair, err := tls.LoadX509KeyPair(files.Cert, files.Key); err == nil && time.Until(pair.Leaf.NotAfter) > 24*time.Hour {
		return files, nil
	}
	ca, err := broker.NewCA("tocsin dev CA", devCertValidity)
	if err != nil {
		return nil, fmt.Errorf("dev tls: %w", err)
	}
	files, err = ca.WriteCertFiles(dir, "tocsin dev", devTLSHosts, devCertValidity)
	if err != nil {
		return nil, fmt.Errorf("dev tls: %w", err)
	}
	return files, nil
}
