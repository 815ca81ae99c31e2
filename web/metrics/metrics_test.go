package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
	"github.com/tocsin-project/tocsin/web/internal/webtest"
	"github.com/tocsin-project/tocsin/web/metrics"
)

// scrape GETs /metrics and returns the body.
func scrape(t *testing.T, e *webtest.Env) []byte {
	t.Helper()
	resp, body := e.Do("", http.MethodGet, "/metrics", nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != metrics.ContentType {
		t.Fatalf("/metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return body
}

var (
	sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$`)
	labelRE  = regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)`)
)

// parse checks the text format strictly (every sample under a TYPE of its
// family, labels well formed, values numbers, histogram buckets
// cumulative and ending in +Inf = _count) and returns the samples by
// `name{labels}` in the order written.
func parse(t *testing.T, body []byte) map[string]float64 {
	t.Helper()
	types := map[string]string{}
	out := map[string]float64{}
	buckets := map[string][]float64{}
	for n, line := range strings.Split(strings.TrimRight(string(body), "\n"), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || !slices.Contains([]string{"counter", "gauge", "histogram"}, f[1]) || types[f[0]] != "" {
				t.Fatalf("line %d: bad TYPE %q", n+1, line)
			}
			types[f[0]] = f[1]
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d: not a sample: %q", n+1, line)
		}
		name, labels := m[1], m[3]
		family := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && types[base] == "histogram" {
				family = base
			}
		}
		if types[family] == "" {
			t.Fatalf("line %d: %s has no TYPE before it", n+1, name)
		}
		var keep []string
		le := ""
		for rest := labels; rest != ""; {
			lm := labelRE.FindStringSubmatch(rest)
			if lm == nil {
				t.Fatalf("line %d: bad labels %q", n+1, labels)
			}
			if lm[1] == "le" {
				le = lm[2]
			} else {
				keep = append(keep, lm[1]+"="+lm[2])
			}
			rest = rest[len(lm[0]):]
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil && m[4] != "+Inf" {
			t.Fatalf("line %d: value %q", n+1, m[4])
		}
		key := name + "{" + strings.Join(keep, ",") + "}"
		if strings.HasSuffix(name, "_bucket") {
			b := buckets[key]
			if len(b) > 0 && v < b[len(b)-1] {
				t.Fatalf("line %d: buckets not cumulative", n+1)
			}
			buckets[key] = append(b, v)
			if le == "+Inf" {
				out[key] = v
			}
			continue
		}
		if _, dup := out[key]; dup {
			t.Fatalf("line %d: %s twice", n+1, key)
		}
		out[key] = v
	}
	for key, v := range out {
		if strings.Contains(key, "_bucket{") {
			count := strings.Replace(key, "_bucket{", "_count{", 1)
			if out[count] != v {
				t.Fatalf("%s: +Inf %v != _count %v", key, v, out[count])
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
	lag := `tocsin_consumer_pending{stream=SECTORS,consumer=` + auth.SectorConsumer("riverside", "patient-care") + `}`
	before := parse(t, scrape(t, e))
	for _, want := range []string{`tocsin_stream_messages{stream=SECTORS}`, `tocsin_stream_messages{stream=KV_ROUTED}`,
		`tocsin_consumer_pending{stream=INGEST,consumer=router}`, lag, `tocsin_web_index_ready{}`, `go_goroutines{}`} {
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
	counted := []string{`tocsin_receipts_total{state=acknowledged}`, `tocsin_aid_requests{state=open}`, `tocsin_rejections_total{kind=alert,code=invalid-pattern}`}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		after = parse(t, scrape(t, e))
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
	moved := []struct {
		key string
		min float64
	}{
		{`tocsin_stream_messages{stream=SECTORS}`, before[`tocsin_stream_messages{stream=SECTORS}`] + 1},
		{`tocsin_stream_messages{stream=INGEST}`, before[`tocsin_stream_messages{stream=INGEST}`] + 4},
		{`tocsin_outcomes_total{state=routed}`, 2}, // the alert and the aid request
		{`tocsin_outcomes_total{state=rejected}`, 1},
		{`tocsin_rejections_total{kind=alert,code=invalid-pattern}`, 1},
		{`tocsin_receipts_total{state=acknowledged}`, 1},
		{`tocsin_aid_requests{state=open}`, 1},
		{`tocsin_delivery_latency_seconds_count{kind=alert,lane=flash,destination=sector}`, 1},
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
	if s := after[`tocsin_delivery_latency_seconds_sum{kind=alert,lane=flash,destination=sector}`]; s <= 0 || s > 30 {
		t.Errorf("delivery latency sum %v s", s)
	}
}

func TestExpositionFormat(t *testing.T) {
	r := &metrics.Registry{}
	c := metrics.NewCounter("x_total", "Things with \\ and\nnewlines.", "a", "b")
	c.Add(2, `quote " back \ nl`+"\n", "")
	c.Inc("plain", "b")
	h := metrics.NewHistogram("lat_seconds", "Latency.", []float64{0.1, 1}, "k")
	for _, v := range []float64{0.05, 0.1, 0.5, 2, math.Inf(1)} {
		h.Observe(v, "x")
	}
	g := metrics.NewGauge("g", "A gauge.")
	g.Set(-1.5)
	r.Register(c, h, g)
	var buf bytes.Buffer
	if err := metrics.Write(&buf, r.Gather(context.Background())); err != nil {
		t.Fatal(err)
	}
	got := parse(t, buf.Bytes())
	want := map[string]float64{
		`x_total{a=quote \" back \\ nl\n,b=}`: 2, `x_total{a=plain,b=b}`: 1, `g{}`: -1.5,
		`lat_seconds_bucket{k=x}`: 5, `lat_seconds_count{k=x}`: 5, `lat_seconds_sum{k=x}`: math.Inf(1),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v\n%s", k, got[k], v, buf.String())
		}
	}
	if !strings.Contains(buf.String(), `lat_seconds_bucket{k="x",le="0.1"} 2`) || !strings.Contains(buf.String(), `lat_seconds_bucket{k="x",le="1"} 3`) {
		t.Errorf("buckets:\n%s", buf.String())
	}
}

// TestDashboardNamesExist checks that every metric the sample Grafana
// dashboard queries is one a node's /metrics exposes.
func TestDashboardNamesExist(t *testing.T) {
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
	e := webtest.Start(t, webtest.Options{NoRouter: true})
	for _, line := range strings.Split(string(scrape(t, e)), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			known[strings.Fields(rest)[0]] = true
		}
	}
	name := regexp.MustCompile(`tocsin_[a-z_]+`)
	queries := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			queries++
			for _, n := range name.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
				if !known[base] {
					t.Errorf("the dashboard queries %s, which nothing exposes: %s", n, tg.Expr)
				}
			}
		}
	}
	if queries < 20 {
		t.Fatalf("only %d queries in the dashboard", queries)
	}
}
