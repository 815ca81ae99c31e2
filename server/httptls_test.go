package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/broker"
)

// certFiles writes a certificate for 127.0.0.1, valid for validity, signed
// by a new CA, into dir.
func certFiles(t *testing.T, dir string, validity time.Duration) *broker.TLSOptions {
	t.Helper()
	ca, err := broker.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	files, err := ca.WriteCertFiles(dir, "node", []string{"127.0.0.1"}, validity)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// serveHTTPS serves "ok" over HTTPS with cfg, as Server.Main does, and
// returns the address.
func serveHTTPS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{TLSConfig: cfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func trusting(t *testing.T, ca string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return pool
}

// The HTTPS listener speaks TLS 1.2 and newer only.
func TestHTTPSRefusesOldTLS(t *testing.T) {
	files := certFiles(t, t.TempDir(), time.Hour)
	cfg, err := httpsConfig(files, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveHTTPS(t, cfg)
	pool := trusting(t, files.CA)
	for _, v := range []struct {
		version uint16
		ok      bool
	}{{tls.VersionTLS11, false}, {tls.VersionTLS12, true}, {tls.VersionTLS13, true}} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: v.version})
		if (err == nil) != v.ok {
			t.Errorf("TLS %s: handshake error %v, want ok=%v", tls.VersionName(v.version), err, v.ok)
		}
		if err == nil {
			conn.Close()
		}
	}
}

// Unusable files are refused at start, naming http_tls.
func TestHTTPSConfigRefusesUnusableFiles(t *testing.T) {
	dir := t.TempDir()
	good := certFiles(t, filepath.Join(dir, "good"), time.Hour)
	other := certFiles(t, filepath.Join(dir, "other"), time.Hour)
	expired := certFiles(t, filepath.Join(dir, "expired"), -time.Hour)
	for name, tc := range map[string]struct {
		o    broker.TLSOptions
		want string
	}{
		"no key":            {broker.TLSOptions{Cert: good.Cert}, "cert and key"},
		"missing cert":      {broker.TLSOptions{Cert: good.Cert + ".nope", Key: good.Key}, "no such file"},
		"key of another":    {broker.TLSOptions{Cert: good.Cert, Key: other.Key}, "private key does not match"},
		"expired":           {broker.TLSOptions{Cert: expired.Cert, Key: expired.Key}, "not now"},
		"verify without ca": {broker.TLSOptions{Cert: good.Cert, Key: good.Key, Verify: true}, "verify needs ca"},
		"ca not a pem":      {broker.TLSOptions{Cert: good.Cert, Key: good.Key, CA: good.Key}, "no PEM certificate"},
		"ca missing":        {broker.TLSOptions{Cert: good.Cert, Key: good.Key, CA: good.CA + ".nope"}, "no such file"},
	} {
		_, err := httpsConfig(&tc.o, nil)
		if !errors.Is(err, broker.ErrInvalidOptions) || !strings.Contains(err.Error(), "http_tls") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrInvalidOptions naming http_tls and %q", name, err, tc.want)
		}
	}
}

// With verify, a client must present a certificate of the CA.
func TestHTTPSVerifyRequiresAClientCertificate(t *testing.T) {
	files := certFiles(t, t.TempDir(), time.Hour)
	files.Verify = true
	cfg, err := httpsConfig(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveHTTPS(t, cfg)
	pool := trusting(t, files.CA)
	get := func(certs []tls.Certificate) error {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
		resp, err := c.Get("https://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(nil); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	pair, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := get([]tls.Certificate{pair}); err != nil {
		t.Fatalf("a client with a certificate of the CA: %v", err)
	}
}

// A renewed certificate is served without a restart; a broken renewal
// keeps the certificate in use.
func TestHTTPSServesARenewedCertificate(t *testing.T) {
	dir := t.TempDir()
	files := certFiles(t, dir, time.Hour)
	rl := &certReloader{cert: files.Cert, key: files.Key, log: zaptest.NewLogger(t)}
	if err := rl.load(time.Now()); err != nil {
		t.Fatal(err)
	}
	first, _ := rl.get(nil)
	renewed := certFiles(t, t.TempDir(), 2*time.Hour)
	for _, f := range [][2]string{{renewed.Cert, files.Cert}, {renewed.Key, files.Key}} {
		data, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], data, 0o600); err != nil {
			t.Fatal(err)
		}
		// A modification time the file system tells apart.
		later := time.Now().Add(time.Minute)
		if err := os.Chtimes(f[1], later, later); err != nil {
			t.Fatal(err)
		}
	}
	second, _ := rl.get(nil)
	if second.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
		t.Fatal("the renewed certificate is not served")
	}
	if err := os.WriteFile(files.Cert, []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	even := time.Now().Add(2 * time.Minute)
	if err := os.Chtimes(files.Cert, even, even); err != nil {
		t.Fatal(err)
	}
	if third, _ := rl.get(nil); third != second {
		t.Fatal("a broken renewal replaced the certificate in use")
	}
}

// http_tls of a node config becomes Options.HTTPTLS; unusable files fail
// the config, naming the field.
func TestNodeConfigHTTPTLS(t *testing.T) {
	dir := t.TempDir()
	files := certFiles(t, filepath.Join(dir, "tls"), time.Hour)
	write := func(httpTLS string) string {
		p := filepath.Join(dir, "node.yaml")
		cfg := "name: n1\nstore_dir: " + filepath.Join(dir, "store") + "\ninsecure_no_auth: true\ninsecure_no_tls: true\nhttp: 127.0.0.1:8443\n" + httpTLS
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	o, err := LoadNodeConfig(write("http_tls:\n  cert: " + files.Cert + "\n  key: " + files.Key + "\n"))
	if err != nil || o.HTTPTLS == nil || o.HTTPTLS.Cert != files.Cert || o.HTTPTLS.Key != files.Key {
		t.Fatalf("http_tls: %+v %v", o.HTTPTLS, err)
	}
	if o, err := LoadNodeConfig(write("")); err != nil || o.HTTPTLS != nil {
		t.Fatalf("no http_tls: %+v %v", o.HTTPTLS, err)
	}
	if _, err := LoadNodeConfig(write("http_tls:\n  cert: " + files.Cert + "\n")); !errors.Is(err, broker.ErrInvalidOptions) || !strings.Contains(err.Error(), "http_tls") {
		t.Fatalf("http_tls without key: %v", err)
	}
}
