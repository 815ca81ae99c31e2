package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/server"
	"github.com/tocsin-project/tocsin/subjects"
)

// devCluster is a real dev cluster (operator mode, TLS) in this process.
type devCluster struct {
	t    testing.TB
	data string
	url  string
	// ca, keys and creds are what cli passes as --tls-ca, --keys (to
	// members) and, unless "" or in the args, --creds.
	ca, keys, creds string
	// http is the HTTP face's base URL, "" unless an option turned it on.
	http string
}

// startDevCluster starts a dev cluster without HTTP; options may change
// that (set HTTPAddr and NoHTTP false).
func startDevCluster(t testing.TB, options ...func(*server.Options)) *devCluster {
	t.Helper()
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	o := server.Options{
		Dev:     &server.DevOptions{DataDir: data, Port: broker.RandomPort, TLS: true},
		NoHTTP:  true,
		OnReady: func(*server.Server) { close(ready) },
	}
	for _, f := range options {
		f(&o)
	}
	s, err := server.New(ctx, o, zaptest.NewLogger(t).Named("dev"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	// stopped is closed when Main returns: the cleanup waits for it too,
	// also after Main stopped the cluster before it was ready.
	stopped := make(chan struct{})
	var mainErr error
	go func() { mainErr = s.Main(ctx); close(stopped) }()
	t.Cleanup(func() {
		cancel()
		<-stopped
		s.Exit()
	})
	select {
	case <-ready:
	case <-stopped:
		t.Fatalf("dev cluster stopped: %v", mainErr)
	case <-time.After(90 * time.Second):
		t.Fatal("dev cluster not ready after 90s")
	}
	return &devCluster{t: t, data: data, url: strings.Join(s.ClientURLs(), ","), ca: server.DevTLSCA(data), keys: filepath.Join(data, "auth"), http: s.HTTPURL()}
}

// cli runs tocsin against the cluster with the admin's keys and TLS; args
// may override --creds.
func (d *devCluster) cli(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	full := append(args[:len(args):len(args)], "--server", d.url, "--tls-ca", d.ca)
	if !slices.Contains(args, "--timeout") {
		full = append(full, "--timeout", "20s")
	}
	if args[0] == "members" {
		full = append(full, "--keys", d.keys)
	}
	if d.creds != "" && !slices.Contains(args, "--creds") {
		full = append(full, "--creds", d.creds)
	}
	code = Main(full, &out, &errOut)
	return code, out.String(), errOut.String()
}

// must runs tocsin and fails the test unless it exits 0.
func (d *devCluster) must(args ...string) string {
	d.t.Helper()
	code, out, errOut := d.cli(args...)
	if code != 0 {
		d.t.Fatalf("tocsin %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// connect connects as the member of creds; closed is closed when the
// connection ends.
func (d *devCluster) connect(creds string) (*client.Client, chan struct{}, error) {
	closed := make(chan struct{})
	c, err := client.Connect(context.Background(), client.Options{Servers: d.url, CredsFile: creds, Timeout: 5 * time.Second,
		NATS: []nats.Option{nats.RootCAs(server.DevTLSCA(d.data)), nats.NoReconnect(), nats.ClosedHandler(func(*nats.Conn) { close(closed) })}})
	return c, closed, err
}

func waitClosed(t *testing.T, closed chan struct{}, who string) {
	t.Helper()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s's open connection was not closed within 20s", who)
	}
}

func wantRefused(t *testing.T, err error, who string) {
	t.Helper()
	if err == nil || !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("%s connecting: %v, want an authorization violation", who, err)
	}
}

func TestMembersAddListShowRevokeRotate(t *testing.T) {
	d := startDevCluster(t)
	dir := t.TempDir()

	// list: the demo cast, as a table and as JSON.
	if out := d.must("members", "list"); !strings.Contains(out, "st-mary") || !strings.Contains(out, "hhs-liaison") || !strings.Contains(out, "ROLES") {
		t.Fatalf("members list:\n%s", out)
	}
	var listed []memberJSON
	if err := json.Unmarshal([]byte(d.must("members", "list", "--json")), &listed); err != nil || len(listed) < 14 {
		t.Fatalf("members list --json: %d members, %v", len(listed), err)
	}

	// add: registered, consumers created, credentials that connect.
	creds := filepath.Join(dir, "st-luke.creds")
	out := d.must("members", "add", "--id", "st-luke", "--name", "St. Luke's", "--sectors", "patient-care,health-it",
		"--region", "northeast", "--contact", "soc@st-luke.example", "--out", creds)
	if !strings.Contains(out, creds) || !strings.Contains(out, "applied on 3 nodes") {
		t.Fatalf("members add:\n%s", out)
	}
	if info, err := os.Stat(creds); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v, want mode 0600", info, err)
	}
	luke, lukeClosed, err := d.connect(creds)
	if err == nil {
		defer luke.Close()
	}
	if err != nil {
		t.Fatalf("the new member connects: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := luke.JetStream().Consumer(ctx, subjects.StreamSectors, auth.SectorConsumer("st-luke", "health-it")); err != nil {
		t.Fatalf("the new member's consumer: %v", err)
	}
	var shown memberJSON
	if err := json.Unmarshal([]byte(d.must("members", "show", "st-luke", "--json")), &shown); err != nil ||
		shown.Status != "active" || len(shown.Keys) != 1 || shown.Contact != "soc@st-luke.example" {
		t.Fatalf("members show --json: %+v %v", shown, err)
	}

	// Refusals: nothing written, a clear reason, the documented exit code.
	badKey := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badKey, []byte("- id: bad-key\n  name: Bad\n  sectors: [pharma]\n  region: west\n  roles: [member]\n  keys:\n    - public_key: UNOTAKEY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown sector", []string{"members", "add", "--id", "x-clinic", "--name", "X", "--sectors", "hosptial", "--region", "west", "--out", filepath.Join(dir, "x.creds")}, ExitUsage, "hosptial"},
		{"duplicate id", []string{"members", "add", "--id", "st-mary", "--name", "Again", "--sectors", "pharma", "--region", "west", "--out", filepath.Join(dir, "dup.creds")}, ExitRejected, "already exists"},
		{"malformed key", []string{"members", "add", "--file", badKey, "--out", filepath.Join(dir, "k.creds")}, ExitUsage, "not an NKey"},
		{"bad id", []string{"members", "add", "--id", "St Mary", "--name", "X", "--sectors", "pharma", "--region", "west", "--out", filepath.Join(dir, "i.creds")}, ExitUsage, "not a member id"},
		{"unknown member", []string{"members", "show", "nobody"}, ExitRejected, "no member"},
		{"existing out file", []string{"members", "rotate-key", "st-luke", "--out", creds}, ExitUsage, "exists"},
		{"service role", []string{"members", "add", "--id", "svc-x", "--name", "X", "--roles", "service", "--out", filepath.Join(dir, "s.creds")}, ExitUsage, "service role"},
		{"the last admin", []string{"members", "revoke", "admin"}, ExitRejected, "no active admin"},
	} {
		code, out, errOut := d.cli(tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%s: exit %d (want %d)\n%s%s", tc.name, code, tc.code, out, errOut)
		}
	}
	for _, f := range []string{"x.creds", "dup.creds", "k.creds", "i.creds", "s.creds"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s was written by a refused add", f)
		}
	}

	// rotate-key: the old credentials' open connection is closed and they
	// are refused; the new ones connect; the old key keeps its interval.
	newCreds := filepath.Join(dir, "st-luke-2.creds")
	d.must("members", "rotate-key", "st-luke", "--out", newCreds)
	waitClosed(t, lukeClosed, "st-luke (old key)")
	_, _, err = d.connect(creds)
	wantRefused(t, err, "st-luke with the old key")
	luke2, luke2Closed, err := d.connect(newCreds)
	if err == nil {
		defer luke2.Close()
	}
	if err != nil {
		t.Fatalf("st-luke with the new key: %v", err)
	}
	if err := json.Unmarshal([]byte(d.must("members", "show", "st-luke", "--json")), &shown); err != nil ||
		len(shown.Keys) != 2 || shown.Keys[0].NotAfter == "" || shown.Keys[1].NotAfter != "" {
		t.Fatalf("after rotation: %+v %v, want the old key closed and the new one current", shown.Keys, err)
	}

	// revoke: cut off everywhere within seconds.
	start := time.Now()
	d.must("members", "revoke", "st-luke")
	waitClosed(t, luke2Closed, "st-luke (revoked)")
	_, _, err = d.connect(newCreds)
	wantRefused(t, err, "revoked st-luke")
	t.Logf("revoked and cut off in %s", time.Since(start).Round(time.Millisecond))
	// The CLI says so, with its own exit code: not an outage.
	code, out, errOut := d.cli("situation", "--creds", newCreds)
	if code != ExitNotAccepted || !strings.Contains(errOut, "credentials of st-luke are revoked") {
		t.Fatalf("a command with revoked credentials: exit %d (want %d)\n%s%s", code, ExitNotAccepted, out, errOut)
	}
	// A member's credentials are refused admin commands at once.
	start = time.Now()
	code, out, errOut = d.cli("members", "list", "--creds", filepath.Join(d.data, "creds", "st-mary.creds"))
	if code != ExitRejected || !strings.Contains(errOut, `the credentials of "st-mary" are not an admin's`) || time.Since(start) > 10*time.Second {
		t.Fatalf("members list with a member's credentials: exit %d after %v (want %d at once)\n%s%s", code, time.Since(start), ExitRejected, out, errOut)
	}
	if out := d.must("members", "list"); !strings.Contains(out, "revoked") {
		t.Fatalf("members list does not show the revocation:\n%s", out)
	}
	// The rest of the cast is untouched.
	if c, _, err := d.connect(filepath.Join(d.data, "creds", "st-mary.creds")); err != nil {
		t.Fatalf("st-mary after st-luke's revocation: %v", err)
	} else {
		c.Close()
	}
}
