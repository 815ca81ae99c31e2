package agent

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// SyslogConfig is the syslog part of the agent's config: the TLS files of
// syslog:tls:// sinks (RFC 5425 asks for mutual authentication; the
// client certificate is optional here).
//
//	sinks:
//	  - syslog:tls://siem.st-mary.example:6514?format=cef
//	syslog_tls_ca: /etc/tocsin/siem-ca.pem     # default: the system's roots
//	syslog_tls_cert: /etc/tocsin/agent.pem     # client certificate, if the receiver asks
//	syslog_tls_key: /etc/tocsin/agent-key.pem
type SyslogConfig struct {
	// SyslogTLSCA is a PEM CA for the receiver's certificate. Default: the
	// system's roots.
	SyslogTLSCA string `yaml:"syslog_tls_ca"`
	// SyslogTLSCert and SyslogTLSKey are the agent's client certificate and
	// key (PEM), for a receiver that authenticates its senders. Default none.
	SyslogTLSCert string `yaml:"syslog_tls_cert"`
	SyslogTLSKey  string `yaml:"syslog_tls_key"`
}

// openSyslog opens the sink of "syslog:URL", its spool in STATE/syslog.
func (c Config) openSyslog(target string, log *zap.Logger) (Sink, error) {
	opts := SyslogOptions{URL: target, SpoolDir: filepath.Join(c.State, "syslog")}
	if c.SyslogTLSCA != "" || c.SyslogTLSCert != "" || c.SyslogTLSKey != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.SyslogTLSCA != "" {
			pool, err := caPool("syslog_tls_ca", c.SyslogTLSCA)
			if err != nil {
				return nil, err
			}
			cfg.RootCAs = pool
		}
		if (c.SyslogTLSCert == "") != (c.SyslogTLSKey == "") {
			return nil, fmt.Errorf("%w: syslog_tls_cert and syslog_tls_key go together", ErrSinkSpec)
		}
		if c.SyslogTLSCert != "" {
			pair, err := tls.LoadX509KeyPair(c.SyslogTLSCert, c.SyslogTLSKey)
			if err != nil {
				return nil, fmt.Errorf("%w: syslog client certificate: %v", ErrSinkSpec, err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		opts.TLS = cfg
	}
	return OpenSyslog(opts, log)
}

// caPool reads a PEM CA file for the config key what.
func caPool(what, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSinkSpec, what, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: %s %s holds no PEM certificate", ErrSinkSpec, what, path)
	}
	return pool, nil
}
