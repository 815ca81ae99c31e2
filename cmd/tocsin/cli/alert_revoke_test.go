package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/examples"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/server"
)

// taxiiObject is what the revocation tests read of a STIX object.
type taxiiObject struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Modified     string `json:"modified"`
	Revoked      bool   `json:"revoked"`
	CreatedByRef string `json:"created_by_ref"`
}

// taxiiGet reads a TAXII path of the dev cluster's HTTP face as member,
// with the access token tocsin dev wrote for it.
func (d *devCluster) taxiiGet(member, path string, into any) error {
	tok, err := os.ReadFile(filepath.Join(d.data, "creds", member+".token"))
	if err != nil {
		return err
	}
	status, body, err := get(&http.Client{Timeout: 10 * time.Second}, d.http+path, member, strings.TrimSpace(string(tok)))
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, status, body)
	}
	return json.Unmarshal([]byte(body), into)
}

// TestARevocationIsANewVersionOverTAXIIAndInEverySink: tocsin alert
// revoke sends, signed by the sender, the revoked version of each of the
// alert's objects (same id and creator, a later modified, revoked: true)
// to the alert's sector. TAXII lists both versions and serves the revoked
// one as the latest; a member's agent writes the revoked bundle to its
// STIX folder and a revocation record to its JSONL file. An amendment
// that changes an object is a new version the same way.
func TestARevocationIsANewVersionOverTAXIIAndInEverySink(t *testing.T) {
	d := startDevCluster(t, func(o *server.Options) { o.NoHTTP, o.HTTPAddr = false, "127.0.0.1:0" })
	creds := func(member string) string { return filepath.Join(d.data, "creds", member+".creds") }
	dir := t.TempDir()
	jsonl, err := agent.OpenJSONL(agent.JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	folder, err := agent.OpenSTIXDir(filepath.Join(dir, "stix"))
	if err != nil {
		t.Fatal(err)
	}
	d.runAgent(creds("riverside"), filepath.Join(dir, "state"), jsonl, folder)

	original, err := examples.FS.ReadFile("st-mary-ransomware.json")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "st-mary-ransomware.json")
	if err := os.WriteFile(file, original, 0o600); err != nil {
		t.Fatal(err)
	}
	var published publishResult
	decodeOut(t, d.must("alert", "publish", "--file", file, "--tlp", "amber", "--sectors", "patient-care", "--wait", "--json", "--creds", creds("st-mary")), &published)

	var before struct {
		Objects []taxiiObject `json:"objects"`
	}
	testwait.For(t, 30*time.Second, "the alert's objects over TAXII", func() error {
		if err := d.taxiiGet("riverside", "/taxii2/tocsin/collections/sector-patient-care/objects/", &before); err != nil {
			return err
		}
		if len(before.Objects) != 10 { // the example's identity, malware, vulnerability, 3 indicators, 4 relationships
			return fmt.Errorf("%d objects", len(before.Objects))
		}
		return nil
	})
	ind := ""
	for _, o := range before.Objects {
		if o.Type == "indicator" && ind == "" {
			ind = o.ID
		}
	}

	// An amendment with a new version of one indicator.
	var b struct {
		Type    string           `json:"type"`
		ID      string           `json:"id"`
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(original, &b); err != nil {
		t.Fatal(err)
	}
	var v2 map[string]any
	for _, o := range b.Objects {
		if o["id"] == ind {
			v2 = o
		}
	}
	v2["modified"] = time.Now().UTC().Add(-time.Minute).Format("2006-01-02T15:04:05.000Z")
	v2["description"] = "amended: also seen on port 8443"
	amendFile := filepath.Join(dir, "amended.json")
	data, _ := json.Marshal(map[string]any{"type": "bundle", "id": b.ID, "objects": b.Objects})
	if err := os.WriteFile(amendFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	d.must("alert", "amend", published.ID, "--file", amendFile, "--wait", "--creds", creds("st-mary"))
	versions := func(id string) []string {
		var v struct {
			Versions []string `json:"versions"`
		}
		if err := d.taxiiGet("riverside", "/taxii2/tocsin/collections/sector-patient-care/objects/"+id+"/versions/", &v); err != nil {
			return nil
		}
		return v.Versions
	}
	testwait.For(t, 30*time.Second, "the amended indicator's two versions over TAXII", testwait.True(func() bool { return len(versions(ind)) == 2 }))

	out := d.must("alert", "revoke", published.ID, "--file", amendFile, "--reason", "false positive: a clinical vendor's address", "--wait", "--json", "--creds", creds("st-mary"))
	var revocation publishResult
	decodeOut(t, out, &revocation)
	if revocation.Outcome != "routed" || !slices.Equal(revocation.Sectors, []string{"patient-care"}) || revocation.TLP != "amber" {
		t.Fatalf("the revocation's outcome: %+v, want routed to patient-care at amber", revocation)
	}

	// TAXII: every object of the alert but the identity has a revoked
	// version, the latest by default, by the same creator.
	prev := map[string]taxiiObject{}
	for _, o := range before.Objects {
		prev[o.ID] = o
	}
	var after struct {
		Objects []taxiiObject `json:"objects"`
	}
	testwait.For(t, 30*time.Second, "the revoked versions as the latest over TAXII", testwait.True(func() bool {
		if d.taxiiGet("riverside", "/taxii2/tocsin/collections/sector-patient-care/objects/", &after) != nil || len(after.Objects) != len(before.Objects) {
			return false
		}
		for _, o := range after.Objects {
			if o.Type != "identity" && !o.Revoked {
				return false
			}
		}
		return true
	}))
	for _, o := range after.Objects {
		p := prev[o.ID]
		if o.Type == "identity" {
			if o.Revoked || o.Modified != p.Modified {
				t.Errorf("the sender's identity was versioned: %+v", o)
			}
			continue
		}
		if o.CreatedByRef != p.CreatedByRef || o.Modified <= p.Modified {
			t.Errorf("revoked version %+v of %+v: want the same created_by_ref and a later modified", o, p)
		}
	}
	if v := versions(ind); len(v) != 3 {
		t.Errorf("versions of the amended and revoked indicator: %v, want 3", v)
	}
	for _, o := range after.Objects {
		if o.Type != "identity" && o.ID != ind {
			if v := versions(o.ID); len(v) != 2 || v[0] != prev[o.ID].Modified {
				t.Errorf("versions of %s: %v, want its first version %s and the revoked one", o.ID, v, prev[o.ID].Modified)
			}
		}
	}
	var all struct {
		Objects []taxiiObject `json:"objects"`
	}
	if err := d.taxiiGet("riverside", "/taxii2/tocsin/collections/sector-patient-care/objects/?match%5Bversion%5D=all", &all); err != nil {
		t.Fatal(err)
	}
	if want := 2*len(before.Objects) - 1 + 1; len(all.Objects) != want {
		t.Errorf("match[version]=all: %d objects, want %d (each object's first and revoked version, the identity once, the amended indicator's second version)", len(all.Objects), want)
	}

	// The agent: the revoked bundle in the STIX folder, a revocation
	// record in the JSONL file.
	testwait.For(t, 30*time.Second, "the revoked bundle in riverside's STIX folder", testwait.True(func() bool {
		_, err := os.Stat(folder.Path(revocation.ID))
		return err == nil
	}))
	data, err = os.ReadFile(folder.Path(revocation.ID))
	if err != nil {
		t.Fatal(err)
	}
	var written struct {
		Objects []taxiiObject `json:"objects"`
	}
	if err := json.Unmarshal(data, &written); err != nil {
		t.Fatal(err)
	}
	revoked := 0
	for _, o := range written.Objects {
		if o.Revoked {
			revoked++
		}
	}
	if revoked != len(before.Objects)-1 {
		t.Errorf("the STIX folder's %s.json: %d revoked objects, want %d", revocation.ID, revoked, len(before.Objects)-1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	testwait.Until(ctx, t, "a revocation record in riverside's JSONL file", func() error {
		f, err := os.Open(filepath.Join(dir, "alerts.jsonl"))
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r struct {
				ID, Kind, Amends string
				Revoked          bool
				STIX             json.RawMessage `json:"stix"`
			}
			if json.Unmarshal(sc.Bytes(), &r) == nil && r.ID == revocation.ID {
				if r.Kind != agent.KindRevocation || r.Amends != published.ID || !r.Revoked || !bytes.Contains(r.STIX, []byte(`"revoked":true`)) {
					return fmt.Errorf("the record of %s: kind %q amends %q revoked %v", r.ID, r.Kind, r.Amends, r.Revoked)
				}
				return nil
			}
		}
		return errors.New("not yet")
	})
	// What cannot be revoked is refused before anything is sent.
	if code, out, errOut := d.cli("alert", "revoke", "01NOSUCHALERT", "--file", file, "--reason", "x", "--creds", creds("st-mary")); code != ExitRejected || !strings.Contains(out+errOut, "no alert 01NOSUCHALERT from st-mary") {
		t.Errorf("revoke of an unknown id: exit %d\n%s%s", code, out, errOut)
	}
	observables := filepath.Join(dir, "observables.json")
	if err := os.WriteFile(observables, []byte(`{"type":"bundle","id":"bundle--9f1e3a6b-7c8d-4e0f-9a1b-4c5d6e7f8091","objects":[{"type":"ipv4-addr","id":"ipv4-addr--8e0d2f5a-6b7c-4d9e-8f0a-3b4c5d6e7f80","value":"192.0.2.1"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := d.cli("alert", "revoke", published.ID, "--file", observables, "--reason", "x", "--creds", creds("st-mary")); code != ExitUsage || !strings.Contains(errOut, "nothing to revoke") {
		t.Errorf("revoke with a bundle of observables only: exit %d\n%s%s", code, out, errOut)
	}
}

// runAgent runs an agent of the member of creds, with its state in
// stateDir, into sinks, until the test ends.
func (d *devCluster) runAgent(creds, stateDir string, sinks ...agent.Sink) *agent.Agent {
	d.t.Helper()
	a, err := agent.New(agent.Options{CredsFile: creds, Servers: d.url, StateDir: stateDir, Sinks: sinks,
		FetchWait: 2 * time.Second, NATS: []nats.Option{nats.RootCAs(d.ca)}}, zaptest.NewLogger(d.t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		d.t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	d.t.Cleanup(func() { stop(); <-done })
	return a
}

func decodeOut(t *testing.T, out string, into any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), into); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
}
