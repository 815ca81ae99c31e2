package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/tocsin-project/tocsin/agent/paging"
	"github.com/tocsin-project/tocsin/agent/paging/pdtest"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// TestAFlashAlertPagesAndTheAckStopsIt: through a real cluster, a flash
// alert pages the member's PagerDuty service once (its id the dedup key);
// a routine alert and an exercise do not; the member's acknowledgement
// acknowledges the incident.
func TestAFlashAlertPagesAndTheAckStopsIt(t *testing.T) {
	w := newWorld(t, member("bridge", tocsinv1.Role_ROLE_MEMBER, "patient-care"))
	a, pd, _, sink := w.startPaging("bridge")

	routine := alert("routine", "patient-care")
	drill := alert("drill", "patient-care")
	drill.Lane, drill.Exercise = tocsinv1.Lane_LANE_FLASH, true
	flash := alert("LockBit on the EHR", "patient-care")
	flash.Lane = tocsinv1.Lane_LANE_FLASH
	var last string
	for _, al := range []*tocsinv1.Alert{routine, drill, flash} {
		e := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, al)
		w.Routed("st-mary", e)
		last = e[0].GetId()
	}
	testwait.For(t, 30*time.Second, "the page", testwait.True(func() bool { return len(pd.Events()) >= 1 }))
	testwait.For(t, 30*time.Second, "all three in the JSONL sink", testwait.True(func() bool {
		return len(jsonlRecords(t, sink)) == 3
	}))
	evs := pd.Events()
	if len(evs) != 1 || evs[0].EventAction != "trigger" || evs[0].DedupKey != last {
		t.Fatalf("PagerDuty got %+v; want one trigger for %s", evs, last)
	}
	if p := evs[0].Payload; p.Severity != "critical" || !strings.Contains(p.Summary, "LockBit on the EHR") || p.CustomDetails["sender"] != "st-mary" ||
		!strings.Contains(p.CustomDetails["indicators"], "domain-name:value") {
		t.Errorf("the page: %+v", p)
	}
	if _, err := a.Receipt(last, tocsinv1.ReceiptState_RECEIPT_STATE_ACKNOWLEDGED, ""); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 30*time.Second, "the acknowledgement at PagerDuty", testwait.True(func() bool { return len(pd.Events()) == 2 }))
	if ev := pd.Events()[1]; ev.EventAction != "acknowledge" || ev.DedupKey != last {
		t.Errorf("after the ack PagerDuty got %+v", ev)
	}
}

func TestPagingConfigRefusesWhatCannotWork(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		cfg  PagingConfig
		want string
	}{
		{PagingConfig{Pager: "pagerduty:"}, "routing key file is required"},
		{PagingConfig{Pager: "opsgenie:x"}, "use pagerduty:URL"},
		{PagingConfig{Escalation: &paging.Policy{Steps: []paging.Step{{Channel: "email:a@b.example"}}}}, "needs an smtp: section"},
		{PagingConfig{Escalation: &paging.Policy{Steps: []paging.Step{{Channel: "webhook"}}}}, "needs a webhook sink"},
		{PagingConfig{Escalation: &paging.Policy{Steps: []paging.Step{{Channel: "pager"}}}}, `no channel "pager"`},
	} {
		_, err := c.cfg.newPager(dir, "", func() ([]byte, error) { return nil, nil }, "t", zaptest.NewLogger(t))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	cfg, err := ParseConfig("agent.yaml", []byte("state: /x\nsinks: [jsonl:/x]\npager: \"pagerduty:\"\npager_routing_key_file: /k\nescalation:\n  exercises: true\n  steps:\n    - channel: pagerduty\n    - channel: email:lead@st-mary.example\n      after: 7m\nsmtp:\n  addr: smtp.example:587\n  from: tocsin@st-mary.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Escalation.Steps; len(s) != 2 || s[1].After != 7*time.Minute || !cfg.Escalation.Exercises || cfg.SMTP.Addr != "smtp.example:587" {
		t.Errorf("the escalation section read as %+v %+v", cfg.Escalation, cfg.SMTP)
	}
}

// TestAnAckInPagerDutyBecomesTheMembersReceipt: the on-call person
// acknowledges the incident in PagerDuty; the agent reads it back and the
// member's acknowledged receipt reaches the router, naming who.
func TestAnAckInPagerDutyBecomesTheMembersReceipt(t *testing.T) {
	w := newWorld(t, member("bridge", tocsinv1.Role_ROLE_MEMBER, "patient-care"))
	pd := pdtest.New("KEY-bridge")
	t.Cleanup(pd.Close)
	dir := t.TempDir()
	ch, err := paging.NewPagerDuty(paging.PagerDutyOptions{URL: pd.EnqueueURL(), RoutingKey: "KEY-bridge", APIURL: pd.APIURL(), APIToken: pdtest.APIToken})
	if err != nil {
		t.Fatal(err)
	}
	p, err := paging.New(paging.Options{Dir: filepath.Join(dir, "pages"), Channels: []paging.Channel{ch}, WatchEvery: 200 * time.Millisecond,
		Policy: paging.Policy{Steps: []paging.Step{{Channel: "pagerduty"}}}, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	j, err := OpenJSONL(JSONLOptions{Path: filepath.Join(dir, "alerts.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	opts := w.agentOptions("bridge", filepath.Join(dir, "state"), j)
	opts.Pager = p
	a, stop := w.start(opts)
	defer stop()
	testwait.For(t, 30*time.Second, "the agent to be live", testwait.True(func() bool { return a.HTTPState().State == "live" }))
	flash := alert("LockBit on the EHR", "patient-care")
	flash.Lane = tocsinv1.Lane_LANE_FLASH
	e := w.Publish("st-mary", tocsinv1.Kind_KIND_ALERT, flash)
	w.Routed("st-mary", e)
	id := e[0].GetId()
	testwait.For(t, 30*time.Second, "the page", testwait.True(func() bool { return len(pd.Events()) == 1 }))
	pd.AcknowledgeInPagerDuty(id, "Jane Doe")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kv, err := w.JS.KeyValue(ctx, records.BucketReach)
	if err != nil {
		t.Fatal(err)
	}
	testwait.Until(ctx, t, "the member's acknowledged receipt in REACH", func() error {
		r, ok, err := records.ReceiptOf(ctx, kv, id, "bridge")
		if err != nil {
			return err
		}
		if !ok || r.Acknowledged.IsZero() {
			return fmt.Errorf("not acknowledged yet: %+v", r)
		}
		return nil
	})
}
