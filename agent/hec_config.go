package agent

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// HECConfig is the Splunk HEC part of the agent's config.
//
//	sinks:
//	  - hec:https://splunk.st-mary.example:8088
//	hec_token_file: /etc/tocsin/hec.token   # required with a hec sink ($TOCSIN_HEC_TOKEN)
//	hec_ack: true                           # when the token has indexer acknowledgement on
//	hec_index: tocsin                       # default: the token's default index
//	hec_tls_ca: /etc/tocsin/splunk-ca.pem   # default: the system's roots
type HECConfig struct {
	// HECTokenFile holds the HEC token (required with a hec sink;
	// $TOCSIN_HEC_TOKEN is used when unset).
	HECTokenFile string `yaml:"hec_token_file"`
	// HECAck turns on indexer acknowledgement: events count delivered once
	// Splunk says they were indexed. Default false.
	HECAck bool `yaml:"hec_ack"`
	// HECIndex is the index of every event; default the token's.
	HECIndex string `yaml:"hec_index"`
	// HECTLSCA is a PEM CA for the collector's certificate; default the
	// system's roots.
	HECTLSCA string `yaml:"hec_tls_ca"`
}

// openHEC opens the sink of "hec:URL", its spool in STATE/hec.
func (c Config) openHEC(target string, log *zap.Logger) (Sink, error) {
	token := []byte(os.Getenv("TOCSIN_HEC_TOKEN"))
	if c.HECTokenFile != "" || len(token) == 0 {
		var err error
		if token, err = readSecretFile("HEC token", c.HECTokenFile, "--hec-token-file"); err != nil {
			return nil, err
		}
	}
	opts := HECOptions{URL: target, Token: string(token), Ack: c.HECAck, Index: c.HECIndex, SpoolDir: filepath.Join(c.State, "hec")}
	if c.HECTLSCA != "" {
		pool, err := caPool("hec_tls_ca", c.HECTLSCA)
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts.Client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	return OpenHEC(opts, log)
}
