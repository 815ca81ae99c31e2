package metrics

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// memberStreams are the streams whose durable consumers are all members'
// (their agents' pull consumers and their sites' push consumers); a
// region's (SECTORS-<region>) counts as its stream.
var memberStreams = map[string]bool{subjects.StreamSectors: true, subjects.StreamInbox: true, subjects.StreamRejections: true}

// isMemberStream reports whether stream is one of memberStreams, of a
// region's set or not.
func isMemberStream(stream string) bool {
	plain, _, _ := strings.Cut(stream, "-")
	return memberStreams[plain]
}

func memberDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"stream", "sector"}, nil)
}

// The members' consumers, summed per stream and sector: a SECTORS
// consumer counts in every sector it reads (a member of two sectors in
// both), the INBOX and REJECTIONS ones under sector "".
var (
	memberConsumers  = memberDesc("tocsin_member_consumers", "Members' durable consumers on the stream (per sector they read on SECTORS).")
	memberPending    = memberDesc("tocsin_member_consumer_pending", "Sum over the members' consumers of the messages not yet delivered (their lag).")
	memberPendingMax = memberDesc("tocsin_member_consumer_pending_max", "The largest lag of one member's consumer.")
	memberAck        = memberDesc("tocsin_member_consumer_ack_pending", "Sum over the members' consumers of the messages delivered and not yet acknowledged.")
	memberRedeliv    = memberDesc("tocsin_member_consumer_redelivered", "Sum over the members' consumers of the messages delivered more than once and not yet acknowledged.")
	memberWaiting    = memberDesc("tocsin_member_consumer_waiting_pulls", "Sum over the members' consumers of the pull requests waiting.")
)

// memberSum is the members' consumers of one stream and sector.
type memberSum struct {
	n, pending, pendingMax, ack, redeliv, waiting uint64
}

// memberSums are one stream's, by sector.
type memberSums map[string]*memberSum

// add counts ci in each sector its filters name ("" for none).
func (ms memberSums) add(ci *jetstream.ConsumerInfo) {
	for _, sector := range sectorsOf(ci.Config) {
		s := ms[sector]
		if s == nil {
			s = &memberSum{}
			ms[sector] = s
		}
		s.n++
		s.pending += ci.NumPending
		s.pendingMax = max(s.pendingMax, ci.NumPending)
		s.ack += uint64(ci.NumAckPending)
		s.redeliv += uint64(ci.NumRedelivered)
		s.waiting += uint64(ci.NumWaiting)
	}
}

// collect sends the sums' series.
func (ms memberSums) collect(gauge func(*prometheus.Desc, float64, ...string), stream string) {
	for _, sector := range slices.Sorted(maps.Keys(ms)) {
		s := ms[sector]
		gauge(memberConsumers, float64(s.n), stream, sector)
		gauge(memberPending, float64(s.pending), stream, sector)
		gauge(memberPendingMax, float64(s.pendingMax), stream, sector)
		gauge(memberAck, float64(s.ack), stream, sector)
		gauge(memberRedeliv, float64(s.redeliv), stream, sector)
		gauge(memberWaiting, float64(s.waiting), stream, sector)
	}
}

// sectorsOf are the sectors a consumer's filters read ("tocsin.sector.<s>.>",
// or a region's "tocsin.r.*.sector.<s>.>"), or "" when they name none.
func sectorsOf(cfg jetstream.ConsumerConfig) []string {
	var out []string
	for _, f := range append(slices.Clone(cfg.FilterSubjects), cfg.FilterSubject) {
		_, f = subjects.OutOfRegion(f)
		if s, ok := strings.CutPrefix(f, subjects.Prefix+".sector."); ok {
			if sector, _, _ := strings.Cut(s, "."); sector != "" && !slices.Contains(out, sector) {
				out = append(out, sector)
			}
		}
	}
	if len(out) == 0 {
		return []string{""}
	}
	return out
}

// MemberConsumers is a collector of one member's consumers, a series
// each as tocsin_consumer_* (stream, consumer): the consumers
// auth.Consumers names and its site's, read by name (no listing).
type MemberConsumers struct {
	// JS is a JetStream context with the right to read consumer info.
	JS jetstream.JetStream
	// Member is the member id.
	Member string
	// Region is the node's region in a supercluster of stream sets
	// (docs/REGIONS.md): the consumers read are those on its region's
	// streams (SECTORS-<region>, ...). Default "": a single cluster's.
	Region string
	// Timeout bounds the reads. Default 5s.
	Timeout time.Duration
}

// Describe implements prometheus.Collector.
func (m *MemberConsumers) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{consumerPending, consumerAck, consumerRedeliv, consumerWaiting} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the member's consumers that
// exist.
func (m *MemberConsumers) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel, gauge := scrape(m.Timeout, ch)
	defer cancel()
	id := m.Member
	names := []struct{ stream, name string }{
		{subjects.StreamSectors, auth.SectorsConsumer(id)},
		{subjects.StreamInbox, auth.InboxConsumer(id)},
		{subjects.StreamRejections, auth.RejectionsConsumer(id)},
	}
	for _, st := range []string{subjects.StreamSectors, subjects.StreamInbox, subjects.StreamRejections} {
		names = append(names, struct{ stream, name string }{st, id + "-site-" + strings.ToLower(st)})
	}
	for _, n := range names {
		stream := subjects.RegionStream(n.stream, m.Region)
		c, err := m.JS.Consumer(ctx, stream, n.name)
		if err != nil {
			continue // not made (lazy, no site) or unreadable now
		}
		consumerGauges(gauge, stream, c.CachedInfo())
	}
}

// WithMember serves a scrape with ?member=<id> that member's consumers
// (MemberConsumers: what the per-stream sums hide, for one member at a
// time), on region's streams ("" for a single cluster's), and any other
// scrape with h.
func WithMember(h http.Handler, js jetstream.JetStream, region string, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("member")
		if id == "" {
			h.ServeHTTP(w, r)
			return
		}
		if err := auth.CheckMember(&tocsinv1.Member{Id: id, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		reg := prometheus.NewRegistry()
		if err := reg.Register(&MemberConsumers{JS: js, Member: id, Region: region}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		Handler(reg, log).ServeHTTP(w, r)
	})
}
