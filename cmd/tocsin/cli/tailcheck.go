package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/jwt/v2"
	"google.golang.org/protobuf/proto"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// checkAddressed is tail's defence in depth: the server already delivers
// to member only what its own account imports, but a line is shown as
// verified only if it also arrived on a subject tail asked for (watched)
// and its payload is addressed to where it arrived: an alert or advisory
// on a sector subject names that sector (or none, which means all), a
// sighting summary on a sector subject is for that sector,
// and an alert to named recipients names member. A signed message replayed
// or aimed elsewhere is shown as misaddressed, not as verified.
func checkAddressed(subject, member string, watched []string, payload proto.Message) error {
	if !slices.ContainsFunc(watched, func(w string) bool { return jwt.Subject(subject).IsContainedIn(jwt.Subject(w)) }) {
		return fmt.Errorf("misaddressed: arrived on %s, which tail did not ask for (%s)", subject, strings.Join(watched, ", "))
	}
	_, plain := subjects.OutOfRegion(subject) // a region's copy: tocsin.r.<region>.sector...
	t := strings.Split(plain, ".")
	sector := ""
	if len(t) == 4 && t[0] == subjects.Prefix && t[1] == "sector" {
		sector = t[2]
	}
	switch p := payload.(type) {
	case *tocsinv1.Alert:
		if p.GetAmends() != "" {
			break // reaches everyone the alert it amends reached
		}
		if len(p.GetRecipients()) > 0 && sector == "" && !slices.Contains(p.GetRecipients(), member) {
			return fmt.Errorf("misaddressed: an alert for %s arrived in %s's inbox", strings.Join(p.GetRecipients(), ", "), member)
		}
		if sector != "" && len(p.GetSectors()) > 0 && !slices.Contains(p.GetSectors(), sector) {
			return fmt.Errorf("misaddressed: an alert for sectors %s arrived on %s", strings.Join(p.GetSectors(), ", "), subject)
		}
	case *tocsinv1.Advisory:
		if sector != "" && len(p.GetSectors()) > 0 && !slices.Contains(p.GetSectors(), sector) {
			return fmt.Errorf("misaddressed: an advisory for sectors %s arrived on %s", strings.Join(p.GetSectors(), ", "), subject)
		}
	case *tocsinv1.SightingSummary:
		if sector != "" && p.GetSector() != sector {
			return fmt.Errorf("misaddressed: a sighting summary for sector %s arrived on %s", p.GetSector(), subject)
		}
	}
	return nil
}
