package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// The tests in this file each show a problem the chaos run found outside
// this package, on node processes started as the run starts them.

// shared is one cluster with admitted members for these tests, started by
// the first that needs it and stopped by TestMain.
var shared struct {
	once  sync.Once
	c     *cluster
	dir   string
	creds string
	err   error
}

// Members of the shared cluster.
const (
	finderID = "finder"
	readerID = "reader"
)

// sharedCluster starts (once) three node processes and admits finder and
// reader, both of patient-care.
func sharedCluster(t *testing.T) *cluster {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if shared.dir, shared.err = os.MkdirTemp("", "tocsin-chaos-shared-"); shared.err != nil {
			return
		}
		if shared.c, shared.err = newCluster(ctx, tocsinBin, shared.dir, "always", false, zap.NewNop()); shared.err != nil {
			return
		}
		if shared.err = shared.c.Start(ctx); shared.err != nil {
			return
		}
		seed := filepath.Join(shared.dir, "members.yaml")
		if shared.err = writeSeed(seed, []string{finderID}, []AgentSpec{{Member: readerID, Sectors: []string{"patient-care"}}}, fuzzerID, shared.c.lay.homeOf); shared.err != nil {
			return
		}
		shared.creds = filepath.Join(shared.dir, "creds")
		_, shared.err = runTool(ctx, tocsinBin, shared.c.admitArgs(seed, shared.creds)...)
	})
	if shared.err != nil {
		t.Fatalf("shared cluster: %v", shared.err)
	}
	return shared.c
}

// stopShared stops the shared cluster, if one was started.
func stopShared() {
	if shared.c != nil {
		shared.c.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

// connectAs connects to the shared cluster as member id.
func connectAs(t *testing.T, ctx context.Context, id string) *client.Client {
	t.Helper()
	c, err := memberConn(ctx, shared.c.URLs(), credsOf(shared.creds, id), shared.c.CA())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// JSON text must be UTF-8 (RFC 8259 §8.1). The router routes an alert
// whose STIX bundle holds bytes that are not, and every member's SIEM gets
// them. Fix: alerts/stix rejects a bundle that is not valid UTF-8
// (utf8.Valid) before it parses it, with a malformed or invalid-bundle
// problem.
func TestBundleThatIsNotUTF8IsRejected(t *testing.T) {
	sharedCluster(t)
	ctx := testContext(t, time.Minute)
	c := connectAs(t, ctx, finderID)
	bundle := string(indicatorBundle("utf8.finder.chaos.example", tlp.Green))
	bundle = strings.Replace(bundle, `"name":"C2 domain `, "\"name\":\"C2 \xff\xfe\xc0\x80 domain ", 1)
	env, err := c.Publish(ctx, tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "not UTF-8", Lane: tocsinv1.Lane_LANE_ROUTINE,
		Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_GREEN, StixBundle: []byte(bundle)})
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.WaitOutcome(ctx, env.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED {
		t.Fatalf("an alert whose STIX bundle is not UTF-8 was %s, want rejected: the bytes reach every member's sinks", o.GetState())
	}
}

// startReader runs `tocsin agent` for reader against the shared cluster.
func startReader(t *testing.T) (sink, log string) {
	t.Helper()
	dir := t.TempDir()
	spec := AgentSpec{Member: readerID, Sectors: []string{"patient-care"}}
	a := newAgentProc(tocsinBin, dir, shared.c.URLs(), shared.c.CA(), credsOf(shared.creds, readerID), spec)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := a.proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.proc.Cleanup)
	return a.sink, a.proc.log
}

// `tocsin agent --tls-ca CA` trusts the cluster's CA, as every other
// client command does. (The first chaos runs found it ignored the flag and
// could not connect to a node cluster, where TLS is required.)
func TestAgentTrustsTLSCA(t *testing.T) {
	sharedCluster(t)
	_, log := startReader(t)
	testwait.For(t, 20*time.Second, "tocsin agent --tls-ca connected", func() error {
		if data, _ := os.ReadFile(log); !strings.Contains(string(data), "connected to") {
			return fmt.Errorf("its log:\n%s", tail(data, 2000))
		}
		return nil
	})
}

// A member agent admitted with tocsin members add, on node processes,
// writes a routed alert to its sink. It cannot: the member directory and
// consumer re-creation (tocsin.svc.directory, tocsin.svc.consumer.<id>)
// are neither answered by the nodes (agent.Service is not started in
// server/services.go) nor allowed by the member's permissions (auth's
// permission table and exports; agent/authz_test.go lists the rows).
func TestAgentProcessWritesAlertOnNodeCluster(t *testing.T) {
	sharedCluster(t)
	ctx := testContext(t, 2*time.Minute)
	sink, log := startReader(t)
	c := connectAs(t, ctx, finderID)
	a, err := buildAlert(Spec{TLP: "green", Lane: "urgent", Sectors: []string{"patient-care"}}, "findings", finderID, 1)
	if err != nil {
		t.Fatal(err)
	}
	env, err := c.Publish(ctx, tocsinv1.Kind_KIND_ALERT, a)
	if err != nil {
		t.Fatal(err)
	}
	r := newSinkReader(sink)
	testwait.For(t, 60*time.Second, "the agent writing the routed alert "+env.GetId(), func() error {
		if err := r.Poll(); err != nil {
			t.Fatal(err)
		}
		if !r.Has(env.GetId()) {
			data, _ := os.ReadFile(log)
			return fmt.Errorf("its log:\n%s", tail(data, 2000))
		}
		return nil
	})
}
