package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"iter"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/webtest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// scrape GETs /metrics in the text format and returns the body.
func scrape(t *testing.T, e *webtest.Env) []byte {
	t.Helper()
	resp, body := e.Do("", http.MethodGet, "/metrics", nil, nil)
	if resp.StatusCode != http.StatusOK || expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("/metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return body
}

// parse parses a scrape with Prometheus's parser; see samples.
func parse(t *testing.T, body []byte) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return samples(maps.Values(fams))
}

// gather gathers the web face's registry; see samples.
func gather(t *testing.T, e *webtest.Env) map[string]float64 {
	t.Helper()
	fams, err := e.Web.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	return samples(slices.Values(fams))
}

// samples are the values by `name{label=value,...}`, labels in the
// exposition's (name) order; a histogram's or summary's by its _count and
// _sum, and its _bucket as the +Inf bucket's (its count).
func samples(fams iter.Seq[*dto.MetricFamily]) map[string]float64 {
	out := map[string]float64{}
	for f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := func(suffix string) string { return f.GetName() + suffix + "{" + strings.Join(labels, ",") + "}" }
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				out[key("_count")], out[key("_bucket")], out[key("_sum")] = float64(h.GetSampleCount()), float64(h.GetSampleCount()), h.GetSampleSum()
			case dto.MetricType_SUMMARY:
				out[key("_count")], out[key("_sum")] = float64(m.GetSummary().GetSampleCount()), m.GetSummary().GetSampleSum()
			case dto.MetricType_COUNTER:
				out[key("")] = m.GetCounter().GetValue()
			default:
				out[key("")] = m.GetGauge().GetValue() + m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

func TestMetricsMoveWithWork(t *testing.T) {
	e := webtest.Start(t, webtest.Options{Aid: true})
	// Riverside's consumers, as tocsin members add creates them, with no
	// agent reading them: their lag grows with what is routed.
	riverside, err := e.Registry.Get(context.Background(), "riverside")
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.EnsureConsumers(context.Background(), e.JS, riverside); err != nil {
		t.Fatal(err)
	}
	lag := `tocsin_member_consumer_pending{sector=patient-care,stream=SECTORS}`
	before := parse(t, scrape(t, e))
	for _, want := range []string{`tocsin_stream_messages{stream=SECTORS}`, `tocsin_stream_messages{stream=KV_ROUTED}`,
		`tocsin_consumer_pending{consumer=router,stream=INGEST}`, lag, `tocsin_web_index_ready{}`, `go_goroutines{}`} {
		if _, ok := before[want]; !ok {
			t.Fatalf("no %s in the first scrape", want)
		}
	}

	// Work: a routed alert, a refused one, a receipt, an aid request.
	env := e.Route("st-mary", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "C2", Lane: tocsinv1.Lane_LANE_FLASH, Sectors: []string{"patient-care"},
		Tlp: tocsinv1.TLP_TLP_AMBER, StixBundle: webtest.Bundle(webtest.Indicator("203.0.113.80", tlp.Amber))})
	bad := webtest.Indicator("203.0.113.81", tlp.Amber)
	bad["pattern"] = "[nonsense"
	refused := e.Publish("hilltop", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "bad", Lane: tocsinv1.Lane_LANE_URGENT, Sectors: []string{"patient-care"},
		Tlp: tocsinv1.TLP_TLP_AMBER, StixBundle: webtest.Bundle(bad)})
	e.Outcome("hilltop", refused.GetId())
	e.Publish("riverside", tocsinv1.Kind_KIND_RECEIPT, &tocsinv1.Receipt{RefId: env.GetId(), State: tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED})
	req := e.Publish("st-mary", tocsinv1.Kind_KIND_AID_REQUEST, &tocsinv1.AidRequest{Needs: []*tocsinv1.AidNeed{{Capability: "incident-response", Quantity: 2}},
		Urgency: tocsinv1.Lane_LANE_FLASH, Region: "northeast", Tlp: tocsinv1.TLP_TLP_AMBER, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))})
	e.Outcome("st-mary", req.GetId())

	var after map[string]float64
	// A receipt is handled once its REACH window's write landed, after it
	// was counted: wait for both.
	counted := []string{`tocsin_receipts_total{state=acknowledged}`, `tocsin_router_handled_total{kind=receipt,result=done}`,
		`tocsin_aid_requests{state=open}`, `tocsin_rejections_total{code=invalid-pattern,kind=alert}`}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		after = gather(t, e)
		if !slices.ContainsFunc(counted, func(k string) bool { return after[k] < 1 }) {
			break
		}
		if time.Now().After(deadline) {
			for _, k := range counted {
				t.Errorf("%s = %v", k, after[k])
			}
			t.Fatal("receipts, rejections and aid requests not all counted within 30s")
		}
	}
	after = parse(t, scrape(t, e))
	moved := []struct {
		key string
		min float64
	}{
		{`tocsin_stream_messages{stream=SECTORS}`, before[`tocsin_stream_messages{stream=SECTORS}`] + 1},
		{`tocsin_stream_messages{stream=INGEST}`, before[`tocsin_stream_messages{stream=INGEST}`] + 4},
		{`tocsin_outcomes_total{state=routed}`, 2}, // the alert and the aid request
		{`tocsin_outcomes_total{state=rejected}`, 1},
		{`tocsin_rejections_total{code=invalid-pattern,kind=alert}`, 1},
		{`tocsin_receipts_total{state=acknowledged}`, 1},
		{`tocsin_aid_requests{state=open}`, 1},
		{`tocsin_delivery_latency_seconds_count{destination=sector,kind=alert,lane=flash}`, 1},
		{`tocsin_web_index_messages{}`, 1},
		{`tocsin_web_requests_total{area=metrics,code=200}`, 1},
		{lag, before[lag] + 1},
		{`tocsin_router_handled_total{kind=alert,result=done}`, 2}, // the routed alert and the refused one
		{`tocsin_router_handled_total{kind=receipt,result=done}`, 1},
		{`tocsin_router_handle_seconds_count{kind=alert}`, 2},
	}
	for _, m := range moved {
		if got, ok := after[m.key]; !ok || got < m.min {
			t.Errorf("%s = %v, want at least %v", m.key, got, m.min)
		}
	}
	if s := after[`tocsin_delivery_latency_seconds_sum{destination=sector,kind=alert,lane=flash}`]; s <= 0 || s > 30 {
		t.Errorf("delivery latency sum %v s", s)
	}
	t.Run("DashboardNamesExist", func(t *testing.T) { dashboardNamesExist(t, after) })
}

// dashboardNamesExist checks that every series the sample Grafana
// dashboard queries is in a node's /metrics (scraped: after work, since a
// labelled metric has no series, in /metrics as in Prometheus, until its
// first value).
func dashboardNamesExist(t *testing.T, scraped map[string]float64) {
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct{ Expr string } `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for key := range scraped {
		known[key[:strings.IndexByte(key, '{')]] = true
	}
	name := regexp.MustCompile(`tocsin_[a-z_]+`)
	queries := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			queries++
			for _, n := range name.FindAllString(tg.Expr, -1) {
				if !known[n] {
					t.Errorf("the dashboard queries %s, which nothing exposes: %s", n, tg.Expr)
				}
			}
		}
	}
	if queries < 20 {
		t.Fatalf("only %d queries in the dashboard", queries)
	}
}
