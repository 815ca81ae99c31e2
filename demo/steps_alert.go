package demo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/records"
)

// published is what `tocsin alert publish --json` and `tocsin advisory
// publish --json` print.
type published struct {
	ID            string   `json:"id"`
	Outcome       string   `json:"outcome"`
	DuplicateOf   string   `json:"duplicate_of"`
	Organisations int      `json:"organisations"`
	Sectors       []string `json:"sectors"`
	Recipients    []string `json:"recipients"`
	TLP           string   `json:"tlp"`
	Rejections    []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"rejections"`
}

// publish runs a publish command that must exit with want, and records
// when the message was sent.
func (w *world) publish(c command, want int) (*published, error) {
	var p published
	sent := time.Now()
	if _, err := w.exec(c, want, &p); err != nil {
		return nil, err
	}
	w.sent[p.ID] = sent
	return &p, nil
}

func publishAlert(_ context.Context, w *world) (string, error) {
	p, err := w.publish(tocsin(stMary, "alert", "publish", "--file", "examples/st-mary-ransomware.json",
		"--sectors", "patient-care,health-it", "--lane", "flash", "--tlp", "amber", "--exercise", "--wait",
		"--title", "Ransomware spreading from vendor VPN", "--action", "Block the C2 addresses; disable vendor VPN accounts",
		"--impact", "EHR and PACS encrypted; ambulances diverted"), 0)
	if err != nil {
		return "", err
	}
	want := w.inSectors("patient-care", "health-it")
	slices.Sort(p.Sectors)
	if p.Outcome != "routed" || p.Organisations != len(want) || !slices.Equal(p.Sectors, []string{"health-it", "patient-care"}) || p.TLP != "amber" {
		return "", fmt.Errorf("%s to %v (%d organisations, tlp %s); the story says routed to health-it and patient-care, %d organisations, tlp amber",
			p.Outcome, p.Sectors, p.Organisations, p.TLP, len(want))
	}
	w.ids["alert"] = p.ID
	return fmt.Sprintf("routed to 2 sectors: %d organisations, TLP:AMBER, exercise (id %s)", p.Organisations, p.ID), nil
}

func alertDelivered(ctx context.Context, w *world) (string, error) {
	id := w.ids["alert"]
	want := w.inSectors("patient-care", "health-it")
	on := w.online(want)
	last, err := w.sinks(ctx, id, on, true)
	if err != nil {
		return "", err
	}
	if err := w.receipts(ctx, id, on, "delivered", func(r records.Reach) bool { return !r.Delivered.IsZero() }); err != nil {
		return "", err
	}
	if err := w.routedOnly(ctx, id, "tocsin.sector.health-it.flash", "tocsin.sector.patient-care.flash"); err != nil {
		return "", err
	}
	others := w.others(want)
	if err := w.nobodyElse(id, others); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d/%d agents wrote it to their JSONL feed, STIX folder and webhook within %s of the publish, and sent a delivered receipt; "+
		"%s's agent is offline (its copy waits for it); %s: nothing",
		len(on), len(want), span(last.Sub(w.sent[id])), list(w.offline(want)), list(others)), nil
}

// routedOnly checks that the cluster holds copies of id on exactly the
// subjects want.
func (w *world) routedOnly(ctx context.Context, id string, want ...string) error {
	got, err := w.c.destinations(ctx, id)
	if err != nil {
		return err
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("the cluster holds copies of %s on %v, want exactly %v", id, got, want)
	}
	return nil
}

func duplicateAlert(ctx context.Context, w *world) (string, error) {
	p, err := w.publish(tocsin(lakeside, "alert", "publish", "--file", "examples/lakeside-blackharbor.json",
		"--sectors", "patient-care", "--lane", "flash", "--tlp", "amber", "--exercise", "--wait",
		"--title", "BlackHarbor indicators seen on our network"), 0)
	if err != nil {
		return "", err
	}
	alert := w.ids["alert"]
	if p.Outcome != "duplicate" || p.DuplicateOf != alert {
		return "", fmt.Errorf("%s (duplicate of %q); the story says a duplicate of St. Mary's alert %s", p.Outcome, p.DuplicateOf, alert)
	}
	if err := w.routedOnly(ctx, p.ID); err != nil {
		return "", err
	}
	readers := w.online(w.inSectors("patient-care"))
	if err := w.seenBy(ctx, alert, 1, readers); err != nil {
		return "", err
	}
	return fmt.Sprintf("duplicate of %s: not broadcast again; the %d patient-care agents online, St. Mary's included, now read \"seen at fewer than 3 other patient-care organisations\" (a count below 3 is never disclosed)",
		alert, len(readers)), nil
}

// seenBy waits until the SIGHTINGS bucket counts n organisations for the
// alert's C2 indicator in patient-care, and each of members' agents has
// written the sighting count a member may be told of n for the alert (0,
// "fewer than 3", below records.SightingFloor).
func (w *world) seenBy(ctx context.Context, alert string, n int, members []string) error {
	var have int
	err := poll(ctx, func() (bool, error) {
		var err error
		have, err = w.c.sightings(ctx, c2, "patient-care")
		return have == n, err
	})
	if err != nil {
		return fmt.Errorf("the SIGHTINGS bucket counts %d organisations for %s, want %d: %w", have, c2, n, err)
	}
	told := records.SightingOrganisations(uint32(n))
	l := w.fleet.written
	if err := l.wait(ctx, func() bool { return len(w.withoutCount(alert, told, members)) == 0 }); err != nil {
		return fmt.Errorf("no sighting count of %d (%d counted) in the feeds of %s: %w", told, n, list(w.withoutCount(alert, told, members)), err)
	}
	return nil
}

// withoutCount are those of members whose feed has no sighting count of n
// for alert.
func (w *world) withoutCount(alert string, n int, members []string) []string {
	var out []string
	for _, m := range members {
		found := false
		for _, e := range w.fleet.written.all(m) {
			if s := e.rec.Summary; s != nil && s.AlertID == alert && int(s.Organisations) == n {
				found = true
			}
		}
		if !found {
			out = append(out, m)
		}
	}
	return out
}

func malformedBundle(ctx context.Context, w *world) (string, error) {
	p, err := w.publish(tocsin(riverside, "alert", "publish", "--file", "examples/malformed-siem-export.json",
		"--sectors", "patient-care", "--lane", "urgent", "--tlp", "green", "--exercise", "--wait"), 2)
	if err != nil {
		return "", err
	}
	const want = "invalid-spec-version"
	if p.Outcome != "rejected" || len(p.Rejections) == 0 || p.Rejections[0].Code != want {
		return "", fmt.Errorf("%s %v; the story says rejected with %s", p.Outcome, p.Rejections, want)
	}
	rej, err := w.c.lastRejection(ctx, riverside)
	if err != nil {
		return "", err
	}
	if rej.GetRefId() != p.ID || len(rej.GetProblems()) == 0 || codes.Name(rej.GetProblems()[0].GetCode()) != want {
		return "", fmt.Errorf("riverside's last rejection is of %s (%v), want %s for %s", rej.GetRefId(), rej.GetProblems(), want, p.ID)
	}
	if err := w.routedOnly(ctx, p.ID); err != nil {
		return "", err
	}
	outcome := fmt.Sprintf("rejected, exit code 2: %s: %s; the signed rejection is in riverside's rejections; nobody else got anything", want, p.Rejections[0].Message)
	w.sum.Faults = append(w.sum.Faults, Fault{"malformed bundle", "rejected with " + want + " and a signed rejection to its sender"})
	return outcome, nil
}

func advisory(ctx context.Context, w *world) (string, error) {
	p, err := w.publish(tocsin(liaison, "advisory", "publish", "--file", "examples/blackharbor-advisory.md",
		"--lane", "urgent", "--tlp", "green", "--exercise", "--wait"), 0)
	if err != nil {
		return "", err
	}
	all := w.inSectors(w.sectors()...)
	if p.Outcome != "routed" || p.Organisations != len(all) || len(p.Sectors) != len(w.sectors()) {
		return "", fmt.Errorf("%s to %d sectors, %d organisations; the story says routed to all %d sectors, %d organisations",
			p.Outcome, len(p.Sectors), p.Organisations, len(w.sectors()), len(all))
	}
	id := p.ID
	w.ids["advisory"] = id
	on := w.online(all)
	last, err := w.sinks(ctx, id, on, false)
	if err != nil {
		return "", err
	}
	for _, m := range on {
		if e, _ := w.fleet.written.get(m, id); e.rec.Sender != liaison || !e.rec.Verified || e.rec.Kind != "advisory" {
			return "", fmt.Errorf("%s's agent wrote %s as a %s from %s (verified %v), want a verified advisory from %s",
				m, id, e.rec.Kind, e.rec.Sender, e.rec.Verified, liaison)
		}
	}
	if err := w.receipts(ctx, id, on, "delivered", func(r records.Reach) bool { return !r.Delivered.IsZero() }); err != nil {
		return "", err
	}
	return fmt.Sprintf("routed to %d sectors: %d organisations; %d/%d agents verified it as signed by %s and wrote it within %s; %s's agent is offline",
		len(p.Sectors), p.Organisations, len(on), len(all), liaison, span(last.Sub(w.sent[id])), list(w.offline(all))), nil
}

func redNote(ctx context.Context, w *world) (string, error) {
	to := []string{irFirm, staffing}
	p, err := w.publish(tocsin(stMary, "alert", "publish", "--file", "examples/st-mary-red-note.json",
		"--to", irFirm+","+staffing, "--tlp", "red", "--lane", "urgent", "--exercise", "--wait",
		"--title", "For our responders only: bridge line, jump host, accounts"), 0)
	if err != nil {
		return "", err
	}
	slices.Sort(p.Recipients)
	if p.Outcome != "routed" || len(p.Sectors) != 0 || !slices.Equal(p.Recipients, []string{staffing, irFirm}) || p.TLP != "red" {
		return "", fmt.Errorf("%s to sectors %v and recipients %v, tlp %s; the story says routed to %s only, tlp red",
			p.Outcome, p.Sectors, p.Recipients, p.TLP, list(to))
	}
	w.ids["red"] = p.ID
	last, err := w.sinks(ctx, p.ID, to, true)
	if err != nil {
		return "", err
	}
	if err := w.routedOnly(ctx, p.ID, "tocsin.inbox."+irFirm, "tocsin.inbox."+staffing); err != nil {
		return "", err
	}
	others := w.others(to)
	if err := w.nobodyElse(p.ID, others); err != nil {
		return "", err
	}
	w.sum.Faults = append(w.sum.Faults, Fault{"TLP:RED note", fmt.Sprintf("in the inboxes of its 2 recipients only; %d other agents have nothing", len(others))})
	return fmt.Sprintf("routed to 2 named inboxes, never a sector: %s wrote it within %s; the cluster holds no other copy; the %d other agents have nothing",
		list(to), span(last.Sub(w.sent[p.ID])), len(others)), nil
}

func sightings(ctx context.Context, w *world) (string, error) {
	seers := []string{riverside, valley, hilltop}
	for _, m := range seers {
		if _, err := w.exec(tocsin(m, "sighting", "report", "--indicator", c2), 0, nil); err != nil {
			return "", err
		}
	}
	alert := w.ids["alert"]
	readers := w.online(w.inSectors("patient-care"))
	if err := w.seenBy(ctx, alert, 4, readers); err != nil {
		return "", err
	}
	w.sum.Sightings = append(w.sum.Sightings, Sighting{Indicator: c2, Sector: "patient-care", Organisations: 4})
	return fmt.Sprintf("the %d patient-care agents, St. Mary's included, read \"seen at 4 other patient-care organisations\" "+
		"(Lakeside's re-publish and the sightings of %s), without learning which", len(readers), list(seers)), nil
}
