package metrics_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/webtest"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// TestMembersConsumersAreSummedPerSector: /metrics has the members'
// consumers as sums per stream and sector, not a series per consumer, so
// the series count does not grow with members; ?member=<id> has that
// member's consumers one series each. TOCSIN_METRICS_MEMBERS sets how many
// members get consumers (default 40; the figure in docs/HTTP.md is 1,000).
func TestMembersConsumersAreSummedPerSector(t *testing.T) {
	n := 40
	if v, err := strconv.Atoi(os.Getenv("TOCSIN_METRICS_MEMBERS")); err == nil {
		n = v
	}
	e := webtest.Start(t, webtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			sectors := []string{"patient-care"}
			if i%2 == 1 {
				sectors = append(sectors, "health-it")
			}
			m := &tocsinv1.Member{Id: fmt.Sprintf("clinic-%05d", i), Sectors: sectors, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
			errs <- auth.EnsureConsumers(ctx, e.JS, m)
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	body := scrape(t, e)
	got := parse(t, body)
	series := 0
	for _, line := range strings.Split(string(body), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			series++
		}
	}
	t.Logf("%d members with consumers: %d series in /metrics, %d bytes", n, series, len(body))
	for k := range got {
		if strings.HasPrefix(k, "tocsin_consumer_") && strings.Contains(k, "clinic-") {
			t.Fatalf("a series of one member's consumer in the default scrape: %s", k)
		}
	}
	for key, want := range map[string]float64{
		`tocsin_member_consumers{sector=patient-care,stream=SECTORS}`: float64(n),
		`tocsin_member_consumers{sector=health-it,stream=SECTORS}`:    float64(n / 2),
		`tocsin_member_consumers{sector=,stream=INBOX}`:               float64(n),
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if _, ok := got[`tocsin_member_consumer_pending{sector=patient-care,stream=SECTORS}`]; !ok {
		t.Error("no summed lag of patient-care's consumers")
	}

	resp, one := e.Do("", http.MethodGet, "/metrics?member=clinic-00001", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics?member=clinic-00001: %d %s", resp.StatusCode, one)
	}
	mine := parse(t, one)
	for _, key := range []string{`tocsin_consumer_pending{consumer=clinic-00001-sectors,stream=SECTORS}`, `tocsin_consumer_pending{consumer=clinic-00001-inbox,stream=INBOX}`} {
		if _, ok := mine[key]; !ok {
			t.Errorf("no %s in the member's scrape:\n%s", key, one)
		}
	}
	if resp, _ := e.Do("", http.MethodGet, "/metrics?member=Not.A.Member", nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("?member=Not.A.Member: %d, want 400", resp.StatusCode)
	}
}
