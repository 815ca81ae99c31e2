package auth

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nats-io/jwt/v2"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// regionRE is a region's name: a gateway cluster name.
var regionRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// homeServices are the member services a member homed in a region uses
// in that region: its ingest, and its reach requests (answered by the
// routers that routed its messages, from its home region's REACH).
var homeServices = []string{subjects.IngestAll, subjects.SvcReachPrefix + "*"}

// regionHomeServices are TOCSIN's exports of every region's homeServices,
// for members homed in a region (homeIngest), and of the direct gets of
// every region's ROUTED-<region> (a region's name cannot be a wildcard
// inside a token, so: of every KeyValue bucket's keys; a member's account
// imports only its own outcomes' subject, and only the operator signs
// accounts).
var regionHomeServices = func() []string {
	var out []string
	for _, s := range homeServices {
		out = append(out, subjects.InRegion(subjects.AnyRegion, s))
	}
	return append(out, jsDirectGet+"*.$KV.*.>")
}()

// regionStreams are TOCSIN's stream exports of every region's routed
// copies, for the live view of members homed in a region (liveView).
var regionStreams = []string{subjects.InRegion(subjects.AnyRegion, subjects.SectorsAll), subjects.InRegion(subjects.AnyRegion, subjects.InboxAll)}

// homeIngest is the TOCSIN subject of m's ingest subject or reach request
// subject s (homeServices): s itself on a single cluster; in a
// supercluster of stream sets (docs/REGIONS.md), s in m's home region
// ("tocsin.r.east.ingest.alert.<m>", "tocsin.r.east.svc.reach.<m>"),
// which m's account imports under s, so that m publishes the same subject
// wherever it connects and its home region's INGEST takes it (its home
// region's routers answer it). Moving m to another region is a re-push
// of its account. Its outcomes' direct gets (RoutedGetSubject) likewise
// go to its home region's ROUTED-<home>, where that region's routers
// write the outcomes of what it publishes, imported under the subjects of
// ROUTED: client.Outcome reads them wherever m is homed. Any other
// subject is s.
func homeIngest(m *tocsinv1.Member, s string) (jwt.Subject, error) {
	home := m.GetHomeRegion()
	if home == "" {
		return jwt.Subject(s), nil
	}
	routed := jwt.Subject(s).IsContainedIn(jwt.Subject(RoutedGetSubject(m.GetId(), ">")))
	if !routed && !slices.ContainsFunc(homeServices, func(h string) bool { return jwt.Subject(s).IsContainedIn(jwt.Subject(h)) }) {
		return jwt.Subject(s), nil
	}
	if err := checkHomeRegion(m); err != nil {
		return "", err
	}
	if routed {
		return jwt.Subject(routedGetIn(home, m.GetId()+"."+strings.TrimPrefix(s, RoutedGetSubject(m.GetId(), "")))), nil
	}
	return jwt.Subject(subjects.InRegion(home, s)), nil
}

// checkHomeRegion reports whether m's home region, if any, is a region's
// name.
func checkHomeRegion(m *tocsinv1.Member) error {
	if home := m.GetHomeRegion(); home != "" && !regionRE.MatchString(home) {
		return fmt.Errorf("%w: member %q: home region %q is not a region name; use its gateway cluster name (letters, digits, '-', '_')", ErrInvalidMember, m.GetId(), home)
	}
	return nil
}

// homeCopies are how m's consumers name the copies streams and their
// filters: unchanged for a member of no region; for one homed in a
// region, that region's stream ("SECTORS-east") and every region's
// copies of the subject ("tocsin.r.*.sector.x.>"), which the region's
// copies stream holds, its own captured and the others' sourced.
func homeCopies(m *tocsinv1.Member) (stream, filter func(string) string) {
	home := m.GetHomeRegion()
	if home == "" {
		same := func(s string) string { return s }
		return same, same
	}
	return func(s string) string { return subjects.RegionStream(s, home) },
		func(s string) string { return subjects.InRegion(subjects.AnyRegion, s) }
}

// KnownRegions lists the regions whose stream set exists in the cluster js
// reaches: those with an INGEST-<region> stream (broker.ProvisionRegion),
// sorted; none on a single cluster. It needs a connection that may list
// streams (a service's).
func KnownRegions(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	names := js.StreamNames(ctx)
	var out []string
	for n := range names.Name() {
		if r, ok := strings.CutPrefix(n, subjects.StreamIngest+"-"); ok && regionRE.MatchString(r) {
			out = append(out, r)
		}
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("list the streams to find the regions: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

// CheckHomeRegion reports whether m's home region is one of known (what
// KnownRegions found); no home region always is.
func CheckHomeRegion(m *tocsinv1.Member, known []string) error {
	home := m.GetHomeRegion()
	if home == "" || slices.Contains(known, home) {
		return nil
	}
	if len(known) == 0 {
		return fmt.Errorf("member %q: %w %q; this cluster has no region with a stream set (gateway regions): leave the home region empty", m.GetId(), ErrUnknownRegion, home)
	}
	return fmt.Errorf("member %q: %w %q; known: %s", m.GetId(), ErrUnknownRegion, home, strings.Join(known, ", "))
}
