// Package web is Tocsin's HTTP face on every node: TAXII 2.1 under
// /taxii2/, the console under /console/ and Prometheus metrics at
// /metrics. New builds it from the node's service connection, registry,
// verifier, validator and service key; Run follows the streams it serves
// from; Register mounts it on the server's mux. Callers authenticate as
// members (package webauth) over TLS outside dev.
package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/broker"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/web/console"
	"github.com/tocsin-project/tocsin/web/internal/follow"
	"github.com/tocsin-project/tocsin/web/metrics"
	"github.com/tocsin-project/tocsin/web/relay"
	"github.com/tocsin-project/tocsin/web/store"
	"github.com/tocsin-project/tocsin/web/taxii"
	"github.com/tocsin-project/tocsin/web/webauth"
)

// Deps are what the web face works with, all from one node.
type Deps struct {
	// JS is a JetStream context on the node's service connection.
	JS jetstream.JetStream
	// Registry is the member registry.
	Registry *members.Registry
	// Verifier verifies routed envelopes. It must list every node's
	// service member among its relays (envelope.VerifyOptions.Relays), as
	// the router's must, or relayed TAXII alerts do not verify.
	Verifier *envelope.Verifier
	// Validator reads the TLP markings of POSTed bundles; nil refuses POSTs.
	Validator *stix.Validator
	// ServiceKey is the node's service key (its service.nk seed): it signs
	// relayed messages and console sessions.
	ServiceKey nkeys.KeyPair
	// ServiceID is the node's service member, "svc-<node>".
	ServiceID string
	// Status returns the cluster's status (the server's Status); nil hides
	// the console's health page.
	Status func(ctx context.Context) (any, error)
	// Aid is the mutual-aid read path; nil uses the mutual-aid service's
	// NATS read path on JS's connection.
	Aid console.Aid
	// Collectors are more metrics to expose (metrics.Router's, say).
	Collectors []prometheus.Collector
	// Streams are the streams /metrics reports (tocsin_stream_*), KV
	// buckets as KV_<bucket>. Default broker.StreamNames() and the web
	// face's buckets; a node of a region's stream set gives its set's
	// (broker.RegionSet.StreamNames).
	Streams []string
}

// Options configure the web face.
type Options struct {
	// AllowPlainHTTP accepts credentials over plain HTTP. Default false:
	// set it in dev mode only; a node serves HTTPS.
	AllowPlainHTTP bool
	// SessionTTL is how long a console login lasts. Default 8h.
	SessionTTL time.Duration
	// TAXII configures the TAXII server. Default taxii.Options{}.
	TAXII taxii.Options
	// Console configures the console. Default console.Options{}.
	Console console.Options
	// ScrapeTimeout bounds the stream reads of one /metrics scrape.
	// Default 5s.
	ScrapeTimeout time.Duration
	// Region is the node's region in a supercluster whose regions each
	// hold a stream set (docs/REGIONS.md): the web face indexes its
	// region's copies streams (every region's copies), opens its region's
	// buckets (WEBTOKENS-<region>, TAXIISTATUS-<region>, REACH-<region>,
	// ROUTED-<region>) and relays on its region's ingest. Access tokens
	// are so a region's: one issued in east works on east's nodes. Default
	// "": a single cluster's names.
	Region string
}

// Web is the HTTP face of one node.
type Web struct {
	d       Deps
	log     *zap.Logger
	store   *store.Store
	tokens  *webauth.Tokens
	taxii   *taxii.Server
	console *console.Server
	follow  *metrics.Follower
	own     *metrics.Web
	reg     *prometheus.Registry
	metrics http.Handler
}

// New builds the web face. It opens the WEBTOKENS and TAXIISTATUS buckets
// (see BucketConfigs); Run starts following the streams.
func New(ctx context.Context, d Deps, opts Options, log *zap.Logger) (*Web, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if d.JS == nil || d.Registry == nil || d.Verifier == nil || d.ServiceKey == nil || d.ServiceID == "" {
		return nil, errors.New("web: needs JS, Registry, Verifier, ServiceKey and ServiceID")
	}
	log = log.Named("web")
	signer, err := envelope.NewSigner(d.ServiceID, d.ServiceKey)
	if err != nil {
		return nil, fmt.Errorf("web: service key: %w", err)
	}
	in := func(bucket string) string { return subjects.RegionStream(bucket, opts.Region) }
	tokens, err := webauth.OpenTokensIn(ctx, d.JS, in(webauth.Bucket))
	if err != nil {
		return nil, err
	}
	status, err := d.JS.KeyValue(ctx, in(taxii.StatusBucket))
	if err != nil {
		return nil, fmt.Errorf("web: open bucket %s: %w; provision it (BucketConfigs)", in(taxii.StatusBucket), err)
	}
	reach, err := d.JS.KeyValue(ctx, in(records.BucketReach))
	if err != nil {
		return nil, fmt.Errorf("web: open bucket %s: %w", in(records.BucketReach), err)
	}
	rel, err := relay.New(ctx, d.JS, signer, relay.Options{Region: opts.Region})
	if err != nil {
		return nil, err
	}
	if d.Aid == nil {
		d.Aid = console.NATSAid{NC: d.JS.Conn()}
	}
	w := &Web{d: d, log: log, tokens: tokens, store: store.New(store.Deps{JS: d.JS, Verifier: d.Verifier, Region: opts.Region}, log),
		follow: metrics.NewFollower(d.JS, opts.Region, log), own: metrics.NewWeb()}
	auth := webauth.New(d.Registry, tokens, d.ServiceKey, d.ServiceID, webauth.Options{AllowPlainHTTP: opts.AllowPlainHTTP, SessionTTL: opts.SessionTTL})
	w.taxii = taxii.New(taxii.Deps{Store: w.store, Auth: auth, Relay: rel, Validator: d.Validator, Status: status}, opts.TAXII, log)
	opts.Console.Region = opts.Region
	if w.console, err = console.New(console.Deps{JS: d.JS, Verifier: d.Verifier, Store: w.store, Auth: auth, Relay: rel, Registry: d.Registry,
		Reach: reach, Aid: d.Aid, Status: d.Status, Metrics: w.own}, opts.Console, log); err != nil {
		return nil, err
	}
	names := slices.Clone(d.Streams)
	if len(names) == 0 {
		names = append(broker.StreamNames(), "KV_"+webauth.Bucket, "KV_"+taxii.StatusBucket)
	}
	slices.Sort(names)
	cs := []prometheus.Collector{&metrics.Streams{JS: d.JS, Names: slices.Compact(names), Timeout: opts.ScrapeTimeout}, storeStats(w.store)}
	cs = append(append(append(cs, w.follow.Collectors()...), w.own.Collectors()...), d.Collectors...)
	if w.reg, err = metrics.NewRegistry(cs...); err != nil {
		return nil, fmt.Errorf("web: metrics: %w", err)
	}
	w.metrics = metrics.WithMember(metrics.Handler(w.reg, log), d.JS, opts.Region, log)
	return w, nil
}

// BucketConfigs are the buckets the web face needs besides Tocsin's own,
// for broker.KVConfigs: WEBTOKENS (issued access tokens, hashed; key
// "<member>.<token id>"; history 1, no TTL: each token has its own expiry)
// and TAXIISTATUS (what each TAXII POST submitted, for its status; key
// "<member>.<envelope id>"; history 1, 7 days).
func BucketConfigs(replicas int) []jetstream.KeyValueConfig {
	kv := func(name, desc string, ttl time.Duration) jetstream.KeyValueConfig {
		return jetstream.KeyValueConfig{Bucket: name, Description: desc, History: 1, TTL: ttl, Storage: jetstream.FileStorage, Replicas: replicas}
	}
	return []jetstream.KeyValueConfig{
		kv(webauth.Bucket, "console and TAXII access tokens (hashed), by member and token id", 0),
		kv(taxii.StatusBucket, "TAXII add-objects requests by member and envelope id, for their status", 7*24*time.Hour),
	}
}

// Tokens issues and revokes access tokens.
func (w *Web) Tokens() *webauth.Tokens { return w.tokens }

// Metrics is the registry /metrics serves (tests gather it).
func (w *Web) Metrics() prometheus.Gatherer { return w.reg }

// Store is the index of routed alerts and advisories.
func (w *Web) Store() *store.Store { return w.store }

// Ready is closed once the index has caught up with the streams and the
// metrics follow theirs.
func (w *Web) Ready() <-chan struct{} {
	ready := make(chan struct{})
	go func() {
		<-w.store.Ready()
		<-w.follow.Started()
		close(ready)
	}()
	return ready
}

// Run follows the streams and buckets the web face serves from until ctx
// ends: the index, the metrics' sources, and WEBTOKENS, so that a revoked
// access token stops working here as soon as the bucket replicates it.
func (w *Web) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	events, cancel := w.store.Subscribe(4096)
	defer cancel()
	wg.Go(func() { _ = w.store.Run(ctx) })
	wg.Go(func() { _ = w.console.Run(ctx) })
	wg.Go(func() { _ = w.follow.Run(ctx) })
	wg.Go(func() { follow.Retry(ctx, w.log, webauth.Bucket, w.tokens.Follow) })
	wg.Go(func() { w.observe(ctx, events) })
	wg.Wait()
	return nil
}

// observe records the delivery latency of every copy routed while the
// node is up (not the backlog read at start).
func (w *Web) observe(ctx context.Context, events <-chan store.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			if !w.store.IsReady() {
				continue
			}
			dest := "sector"
			if ev.Copy.Inbox != "" {
				dest = "inbox"
			}
			w.own.Delivery.WithLabelValues(ev.Message.Kind, ev.Message.Lane, dest).Observe(max(ev.Copy.Added.Sub(ev.Message.Signed), 0).Seconds())
		}
	}
}

// storeStats exposes the index's size, read at each scrape.
func storeStats(s *store.Store) prometheus.Collector {
	desc := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	messages := desc("tocsin_web_index_messages", "Routed alerts and advisories the web index holds.")
	objects := desc("tocsin_web_index_objects", "STIX object entries the web index holds, over every destination.")
	refused := desc("tocsin_web_index_refused", "Routed copies that did not verify and were not indexed.")
	ready := desc("tocsin_web_index_ready", "1 once the web index has caught up with the streams.")
	return prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
		st := s.Stats()
		isReady := 0.0
		if s.IsReady() {
			isReady = 1
		}
		for d, v := range map[*prometheus.Desc]float64{messages: float64(st.Messages), objects: float64(st.Entries), refused: float64(st.Refused), ready: isReady} {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
		}
	})
}

// ServeHTTP serves /taxii2/, /console/ and /metrics.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	area := "other"
	var h http.Handler
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/taxii2/"):
		area, h = "taxii", w.taxii
	case strings.HasPrefix(p, "/console/"):
		area, h = "console", w.console
	case p == "/metrics":
		area, h = "metrics", w.metrics
	default:
		h = http.RedirectHandler("/console/", http.StatusFound)
	}
	sw := &statusWriter{ResponseWriter: rw, code: http.StatusOK}
	h.ServeHTTP(sw, r)
	w.own.Requests.WithLabelValues(area, strconv.Itoa(sw.code)).Inc()
}

// statusWriter remembers the status code.
type statusWriter struct {
	http.ResponseWriter
	code int
}

// WriteHeader records the code.
func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
