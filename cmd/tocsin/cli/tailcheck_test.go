package cli

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func TestTailShowsAsVerifiedOnlyWhatIsAddressedWhereItArrived(t *testing.T) {
	watched := []string{"tocsin.inbox.st-mary", "tocsin.sector.patient-care.>"}
	for _, c := range []struct {
		name, subject string
		payload       proto.Message
		refused       string // "" for shown as verified
	}{
		{"an alert for the sector", "tocsin.sector.patient-care.flash", &tocsinv1.Alert{Sectors: []string{"patient-care", "pharma"}}, ""},
		{"an alert for all sectors", "tocsin.sector.patient-care.urgent", &tocsinv1.Alert{}, ""},
		{"an amendment (addressed as the alert it amends)", "tocsin.sector.patient-care.flash", &tocsinv1.Alert{Amends: "a1", Sectors: []string{"pharma"}}, ""},
		{"a RED alert naming the member", "tocsin.inbox.st-mary", &tocsinv1.Alert{Recipients: []string{"st-mary"}}, ""},
		{"an advisory for all sectors", "tocsin.sector.patient-care.info", &tocsinv1.Advisory{}, ""},
		{"a sighting summary of the sector", "tocsin.sector.patient-care.info", &tocsinv1.SightingSummary{Sector: "patient-care"}, ""},
		{"another sector's alert aimed at this lane", "tocsin.sector.patient-care.flash", &tocsinv1.Alert{Sectors: []string{"pharma"}}, "alert for sectors pharma"},
		{"another member's RED alert aimed at this inbox", "tocsin.inbox.st-mary", &tocsinv1.Alert{Recipients: []string{"acme-pharma"}}, "alert for acme-pharma"},
		{"another sector's advisory", "tocsin.sector.patient-care.flash", &tocsinv1.Advisory{Sectors: []string{"pharma"}}, "advisory for sectors pharma"},
		{"another sector's sighting summary", "tocsin.sector.patient-care.info", &tocsinv1.SightingSummary{Sector: "pharma"}, "sighting summary for sector pharma"},
		{"a subject tail did not ask for", "tocsin.sector.pharma.flash", &tocsinv1.Alert{}, "did not ask for"},
		{"another member's inbox", "tocsin.inbox.acme-pharma", &tocsinv1.Alert{}, "did not ask for"},
	} {
		err := checkAddressed(c.subject, "st-mary", watched, c.payload)
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused) || !strings.HasPrefix(err.Error(), "misaddressed")):
			t.Errorf("%s: %v, want misaddressed: ...%s...", c.name, err, c.refused)
		}
	}
}

// A member homed in a region watches every region's copies: a copy
// routed in west is checked against the sector of its subject as one of a
// single cluster is.
func TestTailChecksARegionsCopiesAsItsOwn(t *testing.T) {
	watched := []string{"tocsin.r.*.inbox.st-mary", "tocsin.r.*.sector.patient-care.>"}
	for _, c := range []struct {
		name, subject string
		payload       proto.Message
		refused       string
	}{
		{"west's alert for the sector", "tocsin.r.west.sector.patient-care.flash", &tocsinv1.Alert{Sectors: []string{"patient-care"}}, ""},
		{"east's RED alert naming the member", "tocsin.r.east.inbox.st-mary", &tocsinv1.Alert{Recipients: []string{"st-mary"}}, ""},
		{"another sector's alert aimed at west's lane", "tocsin.r.west.sector.patient-care.flash", &tocsinv1.Alert{Sectors: []string{"pharma"}}, "alert for sectors pharma"},
		{"another sector's sighting summary in east", "tocsin.r.east.sector.patient-care.info", &tocsinv1.SightingSummary{Sector: "pharma"}, "sighting summary for sector pharma"},
		{"a copy of a single cluster's subject", "tocsin.sector.patient-care.flash", &tocsinv1.Alert{}, "did not ask for"},
	} {
		err := checkAddressed(c.subject, "st-mary", watched, c.payload)
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
			t.Errorf("%s: %v, want misaddressed: ...%s...", c.name, err, c.refused)
		}
	}
}
