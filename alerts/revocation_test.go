package alerts

import (
	"slices"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// A revocation is the revoked versions of the alert's objects, sealed by
// the alert's sender (stix.Revoke): it is routed where the alert went,
// under the alert's TLP. One without a bundle, one with objects that are
// not revoked, one naming no alert and one revoking an indicator another member published
// first are refused.
func TestARevocationCarriesRevokedVersionsOfTheSendersOwnObjects(t *testing.T) {
	h := newHarness(t, 1, Options{})
	orig := bundle("198.51.100.21", tlp.Amber)
	alert := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, alertOf(orig, tlp.Amber, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	if o := h.outcome("st-mary", alert.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("the alert: %v", o.GetState())
	}
	revocation := func(b []byte, amends string) *tocsinv1.Alert {
		return &tocsinv1.Alert{Title: "REVOKED", Lane: tocsinv1.Lane_LANE_URGENT, Tlp: tocsinv1.TLP_TLP_CLEAR, StixBundle: b, Amends: amends, Revoked: true, Reason: "false positive"}
	}
	revoked, err := stix.Revoke(orig, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	// lakeside publishes an indicator first; st-mary repeats it to another
	// sector, where it is routed, but may not revoke it.
	theirs := bundle("198.51.100.22", tlp.Green)
	h.publish("lakeside-childrens", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, alertOf(theirs, tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"patient-care"}, nil))
	repeat := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, alertOf(theirs, tlp.Green, tocsinv1.Lane_LANE_URGENT, []string{"health-it"}, nil))
	if o := h.outcome("st-mary", repeat.GetId()); o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED {
		t.Fatalf("the repeated indicator: %v", o.GetState())
	}
	notMine, err := stix.Revoke(theirs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		a    *tocsinv1.Alert
		want string
	}{
		{"no bundle", revocation(nil, alert.GetId()), "invalid-bundle"},
		{"no alert named", revocation(revoked, ""), "invalid-field"},
		{"objects not revoked", revocation(orig, alert.GetId()), "invalid-field"},
		{"another member's indicator", revocation(notMine, repeat.GetId()), "not-original-sender"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			env := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, tc.a)
			rej := h.rejection("st-mary", env.GetId())
			if got := codes.Name(rej.GetProblems()[0].GetCode()); got != tc.want {
				t.Fatalf("reason %q (%s), want %q", got, rej.GetProblems()[0].GetMessage(), tc.want)
			}
		})
	}
	h.t = t
	env := h.publish("st-mary", subjects.KindAlert, tocsinv1.Kind_KIND_ALERT, revocation(revoked, alert.GetId()))
	o := h.outcome("st-mary", env.GetId())
	if o.GetState() != tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED || !slices.Equal(o.GetSectors(), []string{"patient-care"}) || o.GetTlp() != tocsinv1.TLP_TLP_AMBER {
		t.Fatalf("the revocation: %v to %v at %v, want routed to patient-care at amber", o.GetState(), o.GetSectors(), o.GetTlp())
	}
}
