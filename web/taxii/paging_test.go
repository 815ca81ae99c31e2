package taxii_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/webtest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// copyAlerts writes n routed copies of alerts from st-mary to the
// patient-care sector, each with per objects, as the router would: the
// original signed envelope on the sector subject. It returns when the
// index holds them.
func copyAlerts(t *testing.T, e *webtest.Env, n, per, first int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var futures []jetstream.PubAckFuture
	var last string
	for i := range n {
		objs := make([]map[string]any, per)
		for j := range objs {
			objs[j] = webtest.Indicator(webtest.IP(first+i*per+j), tlp.Green)
		}
		env, err := e.Signers["st-mary"].Seal(tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "bulk", Lane: tocsinv1.Lane_LANE_ROUTINE,
			Sectors: []string{"patient-care"}, Tlp: tocsinv1.TLP_TLP_GREEN, StixBundle: webtest.Bundle(objs...)})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := envelope.Marshal(env)
		msg := &nats.Msg{Subject: subjects.Sector("patient-care", "routine"), Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, subjects.RoutedMsgID(env.GetId(), "patient-care"))
		msg.Header.Set(records.HeaderKind, "alert")
		msg.Header.Set(records.HeaderTLP, "green")
		f, err := e.JS.PublishMsgAsync(msg)
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
		last = env.GetId()
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	e.WaitCopies("st-mary", last, 1)
}

func TestPagingTenThousand(t *testing.T) {
	const alertsN, per, limit = 100, 100, 137
	e := webtest.Start(t, webtest.Options{NoRouter: true})
	copyAlerts(t, e, alertsN, per, 0)
	total := alertsN * per

	// exactly checks that pages saw every object once.
	exactly := func(t *testing.T, how string, seen map[string]int, want int) {
		t.Helper()
		if len(seen) != want {
			t.Fatalf("%s: %d distinct objects, want %d", how, len(seen), want)
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("%s: %s seen %d times", how, id, n)
			}
		}
	}

	t.Run("next", func(t *testing.T) {
		seen := map[string]int{}
		next, pages, extra := "", 0, false
		for {
			q := []string{"limit", strconv.Itoa(limit)}
			if next != "" {
				q = append(q, "next", next)
			}
			var env envelopeJSON
			getJSON(t, e, "riverside", coll("sector-patient-care", "objects", q...), http.StatusOK, &env)
			pages++
			for _, o := range env.Objects {
				seen[o.ID]++
			}
			if len(env.Objects) > limit {
				t.Fatalf("page of %d", len(env.Objects))
			}
			if pages == 5 && !extra {
				// Objects added while a client pages come after.
				copyAlerts(t, e, 10, 10, total)
				extra = true
			}
			if !env.More {
				break
			}
			next = env.Next
		}
		exactly(t, "next", seen, total+100)
		t.Logf("%d objects in %d pages with next", len(seen), pages)
	})

	t.Run("added_after", func(t *testing.T) {
		seen := map[string]int{}
		after, pages := "", 0
		for {
			q := []string{"limit", strconv.Itoa(limit)}
			if after != "" {
				q = append(q, "added_after", after)
			}
			var env envelopeJSON
			resp := getJSON(t, e, "riverside", coll("sector-patient-care", "objects", q...), http.StatusOK, &env)
			pages++
			for _, o := range env.Objects {
				seen[o.ID]++
			}
			if len(env.Objects) == 0 {
				break
			}
			after = resp.Header.Get("X-TAXII-Date-Added-Last")
		}
		exactly(t, "added_after", seen, total+100)
		t.Logf("%d objects in %d pages with added_after", len(seen), pages)
	})

	t.Run("manifest with next", func(t *testing.T) {
		seen := map[string]int{}
		next := ""
		for {
			q := []string{"limit", "1000"}
			if next != "" {
				q = append(q, "next", next)
			}
			var man struct {
				More    bool      `json:"more"`
				Next    string    `json:"next"`
				Objects []stixObj `json:"objects"`
			}
			getJSON(t, e, "riverside", coll("sector-patient-care", "manifest", q...), http.StatusOK, &man)
			for _, o := range man.Objects {
				seen[o.ID]++
			}
			if !man.More {
				break
			}
			next = man.Next
		}
		exactly(t, "manifest", seen, total+100)
	})
}
