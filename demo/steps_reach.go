package demo

import (
	"context"
	"fmt"
	"slices"

	"github.com/tocsin-project/tocsin/reach"
	"github.com/tocsin-project/tocsin/records"
)

// acks are the analysts who answer the advisory: acted on it (true) or
// read it (false).
var acks = []struct {
	who      string
	actioned bool
	note     string
}{
	{stMary, true, "C2 blocked at the perimeter; vendor VPN off"},
	{lakeside, true, "indicators blocked; EDR sweep running"},
	{riverside, false, ""},
	{"ehr-vendor", false, ""},
	{"state-public-health", false, ""},
}

func acknowledge(ctx context.Context, w *world) (string, error) {
	id := w.ids["advisory"]
	for _, a := range acks {
		args := []string{"ack", id}
		if a.actioned {
			args = append(args, "--actioned", "--note", a.note)
		}
		if _, err := w.exec(tocsin(a.who, args...), 0, nil); err != nil {
			return "", err
		}
	}
	for _, a := range acks {
		ok := func(r records.Reach) bool { return !r.Acknowledged.IsZero() || !r.Actioned.IsZero() }
		what := "acknowledged"
		if a.actioned {
			ok, what = func(r records.Reach) bool { return !r.Actioned.IsZero() }, "actioned"
		}
		if err := w.receipts(ctx, id, []string{a.who}, what, ok); err != nil {
			return "", err
		}
	}
	rep, err := w.reach(id)
	if err != nil {
		return "", err
	}
	pc := sectorOf(rep, "patient-care")
	return fmt.Sprintf("reach: %d organisations, %d delivered, %d acknowledged, %d actioned; patient-care %d/%d delivered, not yet: %s",
		rep.Organisations, rep.Delivered, rep.Acknowledged, rep.Actioned, pc.Delivered, len(pc.Members), list(pc.NotYet)), nil
}

// reach runs `tocsin reach` as the liaison.
func (w *world) reach(id string) (*reach.Report, error) {
	var rep reach.Report
	if _, err := w.exec(tocsin(liaison, "reach", id), 0, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

func sectorOf(rep *reach.Report, sector string) reach.Sector {
	for _, s := range rep.Sectors {
		if s.Sector == sector {
			return s
		}
	}
	return reach.Sector{Sector: sector}
}

func followUp(_ context.Context, w *world) (string, error) {
	rep, err := w.reach(w.ids["advisory"])
	if err != nil {
		return "", err
	}
	// The liaison, in the federal sector, is not its own advisory's recipient.
	all := slices.DeleteFunc(w.inSectors(w.sectors()...), func(id string) bool { return id == liaison })
	if rep.Delivered != len(all) {
		return "", fmt.Errorf("%d of %d organisations delivered the advisory; the story says every one, the late agent included", rep.Delivered, len(all))
	}
	var never []string
	for _, s := range rep.Sectors {
		sr := SectorReach{Sector: s.Sector, Organisations: len(s.Members), Delivered: s.Delivered, Acknowledged: s.Acknowledged,
			Actioned: s.Actioned, NeverAcknowledged: []string{}}
		for _, m := range s.Members {
			if m.Acknowledged.IsZero() && m.Actioned.IsZero() {
				sr.NeverAcknowledged = append(sr.NeverAcknowledged, m.Member)
				if !slices.Contains(never, m.Member) {
					never = append(never, m.Member)
				}
			}
		}
		if sr.Organisations > 0 {
			w.sum.Reach = append(w.sum.Reach, sr)
		}
	}
	if want := len(all) - len(acks); len(never) != want {
		return "", fmt.Errorf("%d organisations never acknowledged (%s), want %d", len(never), list(never), want)
	}
	slices.Sort(never)
	return fmt.Sprintf("%d/%d delivered, %d acknowledged, %d of them acted on it; never acknowledged: %s: the list for the follow-up call",
		rep.Delivered, rep.Organisations, rep.Acknowledged, rep.Actioned, list(never)), nil
}
