package metrics_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tocsin-project/tocsin/internal/webtest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/tlp"
)

// TestExpfmtParses parses a live scrape with Prometheus's own parser, and
// asks for OpenMetrics too.
func TestExpfmtParses(t *testing.T) {
	e := webtest.Start(t, webtest.Options{Aid: true})
	e.Route("st-mary", tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "C2", Lane: tocsinv1.Lane_LANE_FLASH, Sectors: []string{"patient-care"},
		Tlp: tocsinv1.TLP_TLP_AMBER, StixBundle: webtest.Bundle(webtest.Indicator("203.0.113.90", tlp.Amber))})
	scrape(t, e)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(scrape(t, e)))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tocsin_stream_messages", "tocsin_consumer_pending", "tocsin_delivery_latency_seconds", "tocsin_web_requests_total",
		"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no family %s", name)
		}
	}
	t.Logf("%d families parsed by expfmt", len(fams))

	resp, body := e.Do("", http.MethodGet, "/metrics", nil, http.Header{"Accept": {"application/openmetrics-text;version=1.0.0"}})
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), expfmt.OpenMetricsType+";") ||
		!strings.HasSuffix(string(body), "\n# EOF\n") || !strings.Contains(string(body), "\ntocsin_web_requests_total{") {
		t.Errorf("/metrics asked for OpenMetrics: %d %q\n%.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}
