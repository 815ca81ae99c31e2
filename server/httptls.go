package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/broker"
)

// certCheckEvery is how often the HTTPS certificate's files are looked at
// for a renewed certificate.
const certCheckEvery = 30 * time.Second

// httpsConfig is the HTTP listener's TLS from o: TLS 1.2 or newer
// (broker.MinTLSVersion, as the client and route listeners), the
// certificate read again when its files change (a renewed certificate is
// served without a restart), and with o.Verify a client certificate
// signed by o.CA required on top of the caller's credentials. Errors name
// the config field and wrap broker.ErrInvalidOptions.
func httpsConfig(o *broker.TLSOptions, log *zap.Logger) (*tls.Config, error) {
	if log == nil {
		log = zap.NewNop()
	}
	bad := func(format string, v ...any) (*tls.Config, error) { return nil, configErr("http_tls", format, v...) }
	if o.Cert == "" || o.Key == "" {
		return bad("cert and key are both required (PEM files); the node's tls/cert.pem and tls/key.pem of tocsin init serve, or a certificate your browsers trust")
	}
	if o.Verify && o.CA == "" {
		return bad("verify needs ca: the CA that signed the clients' certificates")
	}
	rl := &certReloader{cert: o.Cert, key: o.Key, log: log, every: certCheckEvery}
	if err := rl.load(time.Now()); err != nil {
		return bad("%v", err)
	}
	cfg := &tls.Config{MinVersion: broker.MinTLSVersion, GetCertificate: rl.get}
	if o.CA != "" {
		pem, err := os.ReadFile(o.CA)
		if err != nil {
			return bad("ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return bad("ca %q holds no PEM certificate", o.CA)
		}
		cfg.ClientCAs = pool
		if o.Verify {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return cfg, nil
}

// certReloader serves a certificate and reads its files again when their
// modification times change, at most every certCheckEvery. A renewed pair
// that does not load (a half-written file) is logged and the one in use is
// kept.
type certReloader struct {
	cert, key string
	log       *zap.Logger
	every     time.Duration // how often the files are looked at

	mu      sync.Mutex
	pair    *tls.Certificate
	mod     [2]time.Time // of cert and key when pair was read
	checked time.Time
}

// load reads the pair; it refuses one that is not valid at now.
func (c *certReloader) load(now time.Time) error {
	mod, err := modTimes(c.cert, c.key)
	if err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(c.cert, c.key)
	if err != nil {
		return fmt.Errorf("%v; check the cert and key files", err)
	}
	if leaf := pair.Leaf; now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return fmt.Errorf("cert %q is valid from %s to %s, not now; issue a new certificate", c.cert,
			leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	c.mu.Lock()
	c.pair, c.mod, c.checked = &pair, mod, now
	c.mu.Unlock()
	return nil
}

// get is tls.Config.GetCertificate.
func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	now := time.Now()
	c.mu.Lock()
	pair, due := c.pair, now.Sub(c.checked) >= c.every
	if due {
		c.checked = now
	}
	mod := c.mod
	c.mu.Unlock()
	if !due {
		return pair, nil
	}
	if cur, err := modTimes(c.cert, c.key); err == nil && cur == mod {
		return pair, nil
	}
	if err := c.load(now); err != nil {
		c.log.Warn("https: the certificate files changed but do not load; still serving the previous certificate", zap.Error(err))
		return pair, nil
	}
	c.log.Info("https: serving the renewed certificate", zap.String("cert", c.cert))
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pair, nil
}

// modTimes are the modification times of the cert and key files.
func modTimes(cert, key string) ([2]time.Time, error) {
	var out [2]time.Time
	for i, p := range []string{cert, key} {
		fi, err := os.Stat(p)
		if err != nil {
			return out, err
		}
		out[i] = fi.ModTime()
	}
	return out, nil
}
