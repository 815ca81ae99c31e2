package auth

import (
	"fmt"
	"regexp"

	"github.com/nats-io/jwt/v2"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// regionRE is a region's name: a gateway cluster name.
var regionRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// regionIngestAll is TOCSIN's export of every region's ingest subjects, for
// members homed in a region (homeIngest).
var regionIngestAll = subjects.InRegion(subjects.AnyRegion, subjects.IngestAll)

// homeIngest is the TOCSIN subject of one of m's ingest subjects s: s
// itself on a single cluster; in a supercluster of stream sets
// (docs/REGIONS.md), s in m's home region ("tocsin.r.east.ingest.alert.<m>"),
// which m's account imports under s, so that m publishes the same subject
// wherever it connects and its home region's INGEST takes it. Moving m to
// another region is a re-push of its account.
func homeIngest(m *tocsinv1.Member, s string) (jwt.Subject, error) {
	home := m.GetHomeRegion()
	if home == "" || !jwt.Subject(s).IsContainedIn(jwt.Subject(subjects.IngestAll)) {
		return jwt.Subject(s), nil
	}
	if !regionRE.MatchString(home) {
		return "", fmt.Errorf("%w: member %q: home region %q is not a region name; use its gateway cluster name (letters, digits, '-', '_')", ErrInvalidMember, m.GetId(), home)
	}
	return jwt.Subject(subjects.InRegion(home, s)), nil
}
