package alerts

import (
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/internal/worstcase"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// BenchmarkPoisonAlertRejection times each worst-case alert from its
// publish to the sender's rejected outcome, through INGEST and the real
// router (issue 16's goal: within 10 s, shown as goal-s).
//
//	go test -run '^$' -bench BenchmarkPoisonAlertRejection -benchtime 3x ./alerts/
func BenchmarkPoisonAlertRejection(b *testing.B) {
	h := newHarnessWith(b, 1, Options{}, nil)
	for _, shape := range worstcase.Shapes() {
		b.Run(shape.Name, func(b *testing.B) {
			var worst time.Duration
			for b.Loop() {
				start := time.Now()
				env := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT,
					alertOf(shape.Bundle, tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
				if o := h.outcome("st-mary", env.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_REJECTED {
					b.Fatalf("outcome %v, want rejected", o.GetState())
				}
				worst = max(worst, time.Since(start))
			}
			b.ReportMetric(worst.Seconds(), "worst-s")
			b.ReportMetric(10, "goal-s")
		})
	}
}
