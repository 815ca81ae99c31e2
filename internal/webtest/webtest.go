// Package webtest runs the web face for tests on a real cluster: a
// provisioned 3-node cluster, the demo cast registered with fresh keys and
// issued access tokens, a router (and optionally the mutual-aid service)
// accepting the test node's relays and reporting to the web face's
// metrics, and the web face on an httptest server.
package webtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/alerts"
	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/ids"
	"github.com/tocsin-project/tocsin/internal/testcluster"
	"github.com/tocsin-project/tocsin/internal/testwait"
	"github.com/tocsin-project/tocsin/members"
	"github.com/tocsin-project/tocsin/mutualaid"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
	"github.com/tocsin-project/tocsin/web"
	"github.com/tocsin-project/tocsin/web/metrics"
)

// ServiceID is the test node's service member.
const ServiceID = "svc-test"

// Options configure Start.
type Options struct {
	// Aid runs the mutual-aid service too.
	Aid bool
	// NoRouter leaves the router out (tests that write routed copies
	// themselves).
	NoRouter bool
	// Web configures the web face; AllowPlainHTTP is forced on.
	Web web.Options
}

// Env is a running web face on a cluster.
type Env struct {
	// T is the test.
	T testing.TB
	// Cluster is the 3-node cluster.
	Cluster *broker.Cluster
	// JS is a JetStream context with the service's rights.
	JS jetstream.JetStream
	// Registry is the member registry, the demo cast in it.
	Registry *members.Registry
	// Signers are every member's own signer.
	Signers map[string]*envelope.Signer
	// Keys are every member's key pair.
	Keys map[string]nkeys.KeyPair
	// Service signs as ServiceID.
	Service *envelope.Signer
	// Web is the web face under test.
	Web *web.Web
	// URL is the web face's base URL.
	URL string
	// Tokens are every member's issued access token.
	Tokens map[string]string
}

// Start brings everything up; it all stops when the test ends.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	c := testcluster.Start(t)
	e := &Env{T: t, Cluster: c, JS: testcluster.JetStream(t, c.ClientURL()), Signers: map[string]*envelope.Signer{}, Keys: map[string]nkeys.KeyPair{}, Tokens: map[string]string{}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, cfg := range web.BucketConfigs(c.Replicas()) {
		testwait.Until(ctx, t, "create the bucket "+cfg.Bucket, func() error { _, err := e.JS.CreateOrUpdateKeyValue(ctx, cfg); return err })
	}
	reg, err := members.Open(ctx, e.JS, members.DefaultVocabulary(), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	e.Registry = reg
	cast, err := members.DemoSeed()
	if err != nil {
		t.Fatal(err)
	}
	cast = append(cast, &tocsinv1.Member{Id: ServiceID, Name: "web under test", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_SERVICE}})
	keys := e.Keys
	for _, m := range cast {
		s, kp, err := envelope.NewMemberKey(m)
		if err != nil {
			t.Fatal(err)
		}
		keys[m.GetId()], e.Signers[m.GetId()] = kp, s
	}
	e.Service = e.Signers[ServiceID]
	if _, err := reg.Seed(ctx, cast); err != nil {
		t.Fatal(err)
	}
	validator, err := stix.New(stix.Options{})
	if err != nil {
		t.Fatalf("validator: %v (run 'make schemas')", err)
	}
	verifier := envelope.NewVerifier(reg, envelope.VerifyOptions{Relays: []string{ServiceID}})
	run, stop := context.WithCancel(context.Background())
	done := make(chan struct{}, 4)
	running := 0
	goRun := func(f func(context.Context) error) {
		running++
		go func() { defer func() { done <- struct{}{} }(); _ = f(run) }()
	}
	t.Cleanup(func() {
		stop()
		for range running {
			<-done
		}
	})
	routerMetrics := metrics.NewRouter()
	if !opts.NoRouter {
		r, err := alerts.New(ctx, alerts.Deps{JS: e.JS, Registry: reg, Verifier: verifier, Validator: validator, Signer: e.Service},
			alerts.Options{Observe: routerMetrics.Observe}, log.Named("router"))
		if err != nil {
			t.Fatal(err)
		}
		goRun(r.Run)
	}
	if opts.Aid {
		svc, err := mutualaid.New(ctx, mutualaid.Deps{JS: e.JS, Registry: reg, Verifier: verifier, Signer: e.Service}, mutualaid.Options{}, log.Named("aid"))
		if err != nil {
			t.Fatal(err)
		}
		goRun(svc.Run)
	}
	wopts := opts.Web
	wopts.AllowPlainHTTP = true
	w, err := web.New(ctx, web.Deps{JS: e.JS, Registry: reg, Verifier: verifier, Validator: validator, ServiceKey: keys[ServiceID], ServiceID: ServiceID,
		Status: func(context.Context) (any, error) {
			return map[string]any{"node": "n1", "meta_leader": "n1", "nodes": []map[string]any{{"name": "n1", "up": true}}}, nil
		}, Collectors: routerMetrics.Collectors()}, wopts, log)
	if err != nil {
		t.Fatal(err)
	}
	e.Web = w
	goRun(w.Run)
	mux := http.NewServeMux()
	web.Register(mux, w)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	select {
	case <-w.Ready():
	case <-ctx.Done():
		t.Fatal("the web index did not catch up")
	}
	for _, m := range cast {
		if m.GetId() == ServiceID {
			continue
		}
		tok, err := w.Tokens().Issue(ctx, m.GetId(), "test", 0)
		if err != nil {
			t.Fatal(err)
		}
		e.Tokens[m.GetId()] = tok
	}
	return e
}

// Publish seals payload as sender and publishes it on its ingest subject,
// waiting for the stream's acknowledgement.
func (e *Env) Publish(sender string, kind tocsinv1.Kind, payload proto.Message) *tocsinv1.Envelope {
	e.T.Helper()
	env, err := e.Signers[sender].Seal(kind, payload)
	if err != nil {
		e.T.Fatal(err)
	}
	token, _ := records.IngestToken(kind)
	e.PublishRaw(subjects.Ingest(token, sender), env)
	return env
}

// PublishRaw publishes a sealed envelope on subject, retrying while the
// cluster settles.
func (e *Env) PublishRaw(subject string, env *tocsinv1.Envelope) {
	e.T.Helper()
	data, err := envelope.Marshal(env)
	if err != nil {
		e.T.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	testwait.Until(ctx, e.T, "publish "+subject, func() error {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		defer acancel()
		_, err := e.JS.Publish(actx, subject, data, jetstream.WithMsgID(env.GetId()))
		return err
	})
}

// Outcome polls the router's outcome of sender's message id.
func (e *Env) Outcome(sender, id string) *tocsinv1.Outcome {
	e.T.Helper()
	kv, err := e.JS.KeyValue(context.Background(), records.BucketRouted)
	if err != nil {
		e.T.Fatal(err)
	}
	var o *tocsinv1.Outcome
	testwait.For(e.T, 30*time.Second, fmt.Sprintf("the outcome of %s/%s", sender, id), testwait.True(func() bool {
		o, _ = records.GetOutcome(context.Background(), kv, sender, id)
		return o != nil
	}))
	return o
}

// Route publishes an alert or advisory, checks that it was routed, and
// waits until the web index holds every copy of it.
func (e *Env) Route(sender string, kind tocsinv1.Kind, payload proto.Message) *tocsinv1.Envelope {
	e.T.Helper()
	env := e.Publish(sender, kind, payload)
	o := e.Outcome(sender, env.GetId())
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		e.T.Fatalf("%s was not routed: %v", env.GetId(), o)
	}
	e.WaitCopies(sender, env.GetId(), len(o.GetSectors())+len(o.GetRecipients()))
	return env
}

// WaitCopies waits until the index has seen n copies of sender's message.
func (e *Env) WaitCopies(sender, id string, n int) {
	e.T.Helper()
	m, err := e.Registry.Member(context.Background(), sender)
	if err != nil {
		e.T.Fatal(err)
	}
	testwait.For(e.T, 30*time.Second, fmt.Sprintf("the web index to hold %d copies of %s", n, id), testwait.True(func() bool {
		msg, err := e.Web.Store().Message(m, id)
		return err == nil && len(msg.Sectors)+len(msg.Inboxes) >= n
	}))
}

// Do sends a request as member (HTTP Basic with its access token; "" for
// none) and returns the response and its body.
func (e *Env) Do(member, method, path string, body io.Reader, header http.Header) (*http.Response, []byte) {
	e.T.Helper()
	req, err := http.NewRequest(method, e.URL+path, body)
	if err != nil {
		e.T.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if member != "" {
		req.SetBasicAuth(member, e.Tokens[member])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Fatal(err)
	}
	return resp, data
}

// UUID returns a random version 4 UUID.
func UUID() string { return ids.V4() }

// Now is a STIX timestamp of now.
func Now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// Indicator is a STIX indicator of ip marked with level.
func Indicator(ip string, level tlp.Level) map[string]any {
	now := Now()
	return map[string]any{"type": "indicator", "spec_version": "2.1", "id": "indicator--" + UUID(), "created": now, "modified": now,
		"name": "C2 address " + ip, "pattern": fmt.Sprintf("[ipv4-addr:value = '%s']", ip), "pattern_type": "stix", "valid_from": now,
		"indicator_types": []string{"malicious-activity"}, "object_marking_refs": []string{tlp.MarkingID(level)}}
}

// Bundle is a bundle of objects.
func Bundle(objects ...map[string]any) []byte {
	data, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + UUID(), "objects": objects})
	return data
}

// IP returns a distinct documentation-range address for n.
func IP(n int) string { return fmt.Sprintf("198.%d.%d.%d", 18+n/65536%2, n/256%256, n%256) }

// Lines splits s into trimmed non-empty lines.
func Lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
