package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/reach"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/web/webauth"
)

// countingDialer dials TCP and counts the bytes its connections read (TLS
// records included: what crossed the wire).
type countingDialer struct{ in atomic.Int64 }

func (d *countingDialer) Dial(network, address string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: 10 * time.Second}).Dial(network, address)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, in: &d.in}, nil
}

type countingConn struct {
	net.Conn
	in *atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(int64(n))
	return n, err
}

// connect connects as the member of creds.
func (c *cluster) connect(ctx context.Context, creds string, extra ...nats.Option) (*client.Client, error) {
	return client.Connect(ctx, client.Options{Servers: c.URLs(), CredsFile: creds, Name: "scale bench",
		NATS: append([]nats.Option{nats.RootCAs(c.CA()), nats.MaxReconnects(-1)}, extra...)})
}

// directory fetches the public member directory once as the member of
// creds: the bytes read and the time.
func directory(ctx context.Context, c *cluster, creds string, p *Point) error {
	d := &countingDialer{}
	cl, err := c.connect(ctx, creds, nats.SetCustomDialer(d))
	if err != nil {
		return err
	}
	defer cl.Close()
	base, start := d.in.Load(), time.Now()
	dir, err := records.FetchDirectory(ctx, cl.Conn())
	if err != nil {
		return err
	}
	p.DirectoryTime, p.DirectoryBytes = time.Since(start), d.in.Load()-base
	if len(dir) < p.Members {
		return fmt.Errorf("%w: the directory has %d members, want at least %d", ErrCluster, len(dir), p.Members)
	}
	return nil
}

// agentStart runs the member agent of creds in process from its start
// until it is live, counting what its connection read.
func agentStart(ctx context.Context, c *cluster, creds, dir string, p *Point) error {
	j, err := agent.OpenJSONL(agent.JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
	if err != nil {
		return err
	}
	defer j.Close()
	d := &countingDialer{}
	start := time.Now()
	a, err := agent.New(agent.Options{CredsFile: creds, Servers: c.URLs(), StateDir: filepath.Join(dir, "state"), Sinks: []agent.Sink{j},
		Name: "scale bench agent", NATS: []nats.Option{nats.RootCAs(c.CA()), nats.SetCustomDialer(d)}}, zap.NewNop())
	if err != nil {
		return err
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	defer func() { cancel(); <-done }()
	deadline := time.After(5 * time.Minute)
	for a.HTTPState().State != "live" {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("%w: the agent stopped before it was live: %v", ErrCluster, err)
		case <-deadline:
			return fmt.Errorf("%w: the agent is %s after 5 minutes, not live", ErrCluster, a.HTTPState().State)
		case <-time.After(10 * time.Millisecond):
		}
	}
	p.AgentStart, p.AgentStartBytesIn = time.Since(start), d.in.Load()
	return nil
}

// reachAll sends the liaison's advisory to every sector, every member's
// delivered receipt (each on its own connection, as that member, o.Senders
// at once), waits until the liaison's reach shows all n delivered, and
// reads the REACH bucket. It returns the advisory's id.
func reachAll(ctx context.Context, c *cluster, js jetstream.JetStream, n int, credsOf func(string) string, o Options, p *Point) (string, error) {
	lc, err := c.connect(ctx, credsOf(liaison))
	if err != nil {
		return "", err
	}
	defer lc.Close()
	start := time.Now()
	env, err := lc.Publish(ctx, tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "scale: an advisory to every member",
		Body: "Patch the VPN appliances.", Lane: tocsinv1.Lane_LANE_URGENT, Tlp: tocsinv1.TLP_TLP_GREEN,
		Sectors: members.DefaultVocabulary().Sectors, RecommendedAction: "patch"})
	if err != nil {
		return "", err
	}
	if out, err := lc.WaitOutcome(ctx, env.GetId()); err != nil {
		return "", err
	} else if out.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		return "", fmt.Errorf("%w: the advisory was %s, not routed: %v", ErrCluster, out.GetState(), out.GetRejection())
	}
	ingest0, err := streamBytes(ctx, js, subjects.StreamIngest)
	if err != nil {
		return "", err
	}
	cpu0 := c.cpu()
	ids := make(chan string)
	errs := make(chan error, o.Senders)
	var wg sync.WaitGroup
	for range o.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				if err := sendReceipt(ctx, c, credsOf(id), env.GetId()); err != nil {
					errs <- fmt.Errorf("%s's receipt: %w", id, err)
					return
				}
			}
		}()
	}
	go func() {
		defer close(ids)
		for i := range n {
			select {
			case ids <- memberID(i):
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	p.ReceiptsSent = time.Since(start)
	select {
	case err := <-errs:
		return "", err
	default:
	}
	deadline := time.Now().Add(o.ReachWait)
	for {
		cpu := c.cpu()
		rep, err := reach.Of(ctx, lc, env.GetId())
		if err == nil && rep.Delivered >= n {
			p.ReachAllDelivered = time.Since(start)
			p.ReceiptCPU = (cpu - cpu0) / time.Duration(n)
			break
		}
		if time.Now().After(deadline) {
			got := -1
			if rep != nil {
				got = rep.Delivered
			}
			return "", fmt.Errorf("%w: after %s the reach shows %d of %d delivered (%v)", ErrCluster, o.ReachWait, got, n, err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	s, err := js.Stream(ctx, records.Stream(records.BucketReach))
	if err != nil {
		return "", fmt.Errorf("%w: the REACH bucket: %v", ErrCluster, err)
	}
	st := s.CachedInfo().State
	p.ReachKeys, p.ReachBytes, p.ReachWrites = st.NumSubjects, st.Bytes, st.LastSeq
	ingest, err := streamBytes(ctx, js, subjects.StreamIngest)
	if err != nil {
		return "", err
	}
	p.ReceiptIngestBytes = int64(ingest-ingest0) / int64(n)
	return env.GetId(), nil
}

// streamBytes is one replica's bytes of stream name.
func streamBytes(ctx context.Context, js jetstream.JetStream, name string) (uint64, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("%w: stream %s: %v", ErrCluster, name, err)
	}
	return s.CachedInfo().State.Bytes, nil
}

// sendReceipt connects as the member of creds and sends its delivered
// receipt of the liaison's message id, trying again for a minute: a node
// may refuse a just admitted member's credentials until its account JWT
// is applied there (an agent reconnects the same way).
func sendReceipt(ctx context.Context, c *cluster, creds, id string) error {
	return until(ctx, time.Minute, func(context.Context) error {
		cl, err := c.connect(ctx, creds)
		if err != nil {
			return err
		}
		defer cl.Close()
		_, err = cl.Publish(ctx, tocsinv1.Kind_KIND_RECEIPT, &tocsinv1.Receipt{RefId: id, RefSender: liaison,
			State: tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED, At: timestamppb.Now()})
		return err
	})
}

// pages fetches the web face's first pages once each over HTTPS, with
// tokens signed by the members' own keys: the liaison's reach of the
// advisory to all in the console, a member's console messages, and its
// TAXII collections and first page of objects.
func pages(ctx context.Context, c *cluster, advisory string, credsOf func(string) string, p *Point) error {
	lt, err := token(liaison, credsOf(liaison))
	if err != nil {
		return err
	}
	mt, err := token(memberID(0), credsOf(memberID(0)))
	if err != nil {
		return err
	}
	n := c.nodes[1]
	c.ready(ctx, n) // the HTTPS connection open: the pages time the request, not the handshake
	get := func(name, path, tok, accept string) ([]byte, error) {
		pg, body, err := fetch(ctx, c.https, "https://"+n.httpAddr+path, tok, accept)
		if err != nil {
			return nil, fmt.Errorf("%w: %s (%s): %v", ErrCluster, name, path, err)
		}
		pg.Name = name
		p.Pages = append(p.Pages, pg)
		return body, nil
	}
	if _, err := get(pageConsoleReach, "/console/api/reach/"+advisory, lt, ""); err != nil {
		return err
	}
	if _, err := get("console: a member's messages", "/console/api/messages", mt, ""); err != nil {
		return err
	}
	const taxii = "application/taxii+json;version=2.1"
	body, err := get("TAXII: collections", "/taxii2/tocsin/collections/", mt, taxii)
	if err != nil {
		return err
	}
	var list struct {
		Collections []struct {
			ID string `json:"id"`
		} `json:"collections"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.Collections) == 0 {
		return fmt.Errorf("%w: TAXII collections: none for %s (%v)", ErrCluster, memberID(0), err)
	}
	_, err = get(pageTAXIIObjects, "/taxii2/tocsin/collections/"+list.Collections[0].ID+"/objects/", mt, taxii)
	return err
}

// token is a signed web token of member, from the seed of its creds.
func token(member, creds string) (string, error) {
	data, err := os.ReadFile(creds)
	if err != nil {
		return "", err
	}
	kp, err := jwt.ParseDecoratedNKey(data)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrCluster, creds, err)
	}
	return webauth.Mint(member, kp, 10*time.Minute)
}

// fetch GETs url with a bearer token, timing the first byte of the
// response; anything but 200 is an error.
func fetch(ctx context.Context, hc *http.Client, url, tok, accept string) (Page, []byte, error) {
	var first time.Time
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotFirstResponseByte: func() { first = time.Now() },
	}), http.MethodGet, url, nil)
	if err != nil {
		return Page{}, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return Page{}, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Page{}, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return Page{}, nil, fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
	}
	return Page{Path: req.URL.Path, TTFB: first.Sub(start), Bytes: len(body)}, body, nil
}
