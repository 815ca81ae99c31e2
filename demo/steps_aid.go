package demo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tocsin-project/tocsin/mutualaid"
)

func aidRequest(ctx context.Context, w *world) (string, error) {
	var r mutualaid.Request
	if _, err := w.exec(tocsin(stMary, "aid", "request", "--need", "incident-response:2,ehr-downtime-support:1",
		"--urgency", "flash", "--tlp", "amber", "--expires", "48h", "--exercise",
		"--note", "EHR and PACS encrypted; need responders on site and downtime staff for the wards"), 0, &r); err != nil {
		return "", err
	}
	notified := []string{staffing, irFirm}
	if r.State != mutualaid.RequestOpen || r.TLP != "amber" || !slices.Equal(r.Audience, notified) {
		return "", fmt.Errorf("request %s, tlp %s, notified %v; the story says open, tlp amber, notified %s", r.State, r.TLP, r.Audience, list(notified))
	}
	w.ids["request"] = r.ID
	last, err := w.sinks(ctx, r.ID, notified, false)
	if err != nil {
		return "", err
	}
	if err := w.nobodyElse(r.ID, w.others(append(notified, stMary))); err != nil {
		return "", err
	}
	var l mutualaid.ListReply
	listed, err := w.read(ctx, tocsin(irFirm, "aid", "list", "--open"), &l, func() bool {
		return slices.ContainsFunc(l.Requests, func(q *mutualaid.Request) bool { return q.ID == r.ID })
	})
	if err != nil {
		return "", fmt.Errorf("%s's open requests never listed %s: %w", irFirm, r.ID, err)
	}
	return fmt.Sprintf("request %s open, TLP:AMBER: %s notified, their agents wrote it within %s; no other organisation was told; %s's open list shows it%s",
		r.ID, list(notified), span(last.Sub(r.CreatedAt)), irFirm, lag(listed)), nil
}

func aidOffers(ctx context.Context, w *world) (string, error) {
	req := w.ids["request"]
	offers := []struct{ who, capability, qty, eta, note string }{
		{irFirm, "incident-response", "2", "4h", "two responders, on site by 06:30"},
		{staffing, "ehr-downtime-support", "1", "2h", "downtime coordinator for the wards"},
	}
	var ids []string
	for _, o := range offers {
		var got mutualaid.Offer
		if _, err := w.exec(tocsin(o.who, "aid", "offer", req, "--capability", o.capability, "--qty", o.qty, "--eta", o.eta, "--note", o.note), 0, &got); err != nil {
			return "", err
		}
		if got.State != mutualaid.OfferOffered || got.Responder != o.who {
			return "", fmt.Errorf("offer %s by %s is %s, want offered by %s", got.ID, got.Responder, got.State, o.who)
		}
		w.ids["offer-"+o.who] = got.ID
		ids = append(ids, got.ID)
	}
	for _, id := range ids {
		if _, err := w.sinks(ctx, id, []string{stMary}, false); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%s offers 2 x incident-response (ETA 4h), %s 1 x ehr-downtime-support (ETA 2h); St. Mary's agent wrote both offers",
		irFirm, staffing), nil
}

func aidAccept(_ context.Context, w *world) (string, error) {
	var o mutualaid.Offer
	for _, who := range []string{irFirm, staffing} {
		if _, err := w.exec(tocsin(stMary, "aid", "accept", w.ids["offer-"+who]), 0, &o); err != nil {
			return "", err
		}
		if o.State != mutualaid.OfferAccepted {
			return "", fmt.Errorf("offer of %s is %s after the accept, want accepted", who, o.State)
		}
	}
	var r mutualaid.Request
	if _, err := w.exec(tocsin(stMary, "aid", "show", w.ids["request"]), 0, &r); err != nil {
		return "", err
	}
	if r.State != mutualaid.RequestFilled {
		return "", fmt.Errorf("request %s after both accepts, want filled", r.State)
	}
	var refused struct {
		Rejections []struct {
			Code string `json:"code"`
		} `json:"rejections"`
	}
	if _, err := w.exec(tocsin(stMary, "aid", "accept", w.ids["offer-"+irFirm]), 2, &refused); err != nil {
		return "", err
	}
	if len(refused.Rejections) == 0 || refused.Rejections[0].Code != "illegal-transition" {
		return "", fmt.Errorf("a second accept was refused with %v, want illegal-transition", refused.Rejections)
	}
	booked, err := w.booked(irFirm, "incident-response")
	if err != nil {
		return "", err
	}
	if booked.Booked != 2 || booked.Free != booked.Capacity-2 {
		return "", fmt.Errorf("%s's incident-response: %d booked, %d free of %d; want 2 booked", irFirm, booked.Booked, booked.Free, booked.Capacity)
	}
	return fmt.Sprintf("request filled; %s's incident-response: 2 of %d units booked; a second accept is refused (illegal-transition): nothing is booked twice",
		irFirm, booked.Capacity), nil
}

// booked reads a responder's capability of type typ.
func (w *world) booked(responder, typ string) (*mutualaid.Capability, error) {
	var caps mutualaid.CapabilitiesReply
	if _, err := w.exec(tocsin(responder, "aid", "capability", "list"), 0, &caps); err != nil {
		return nil, err
	}
	for _, c := range caps.Capabilities {
		if c.Type == typ && c.State == "active" {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%s lists no active %s capability", responder, typ)
}

func statusReport(ctx context.Context, w *world) (string, error) {
	var f mutualaid.Facility
	if _, err := w.exec(tocsin(stMary, "status-report", "--state", "diverting", "--systems", "ehr,pacs", "--exercise",
		"--note", "ambulances to Riverside and Valley General"), 0, &f); err != nil {
		return "", err
	}
	var b mutualaid.Board
	shown, err := w.read(ctx, tocsin(riverside, "situation", "--region", "northeast"), &b, func() bool {
		i := slices.IndexFunc(b.Facilities, func(x mutualaid.Facility) bool { return x.Member == stMary })
		return i >= 0 && b.Facilities[i].State == "diverting" && slices.Equal(b.Facilities[i].Systems, []string{"ehr", "pacs"}) && b.Facilities[i].Exercise
	})
	if err != nil {
		return "", fmt.Errorf("the northeast board shows %+v; the story says St. Mary's diverting (ehr, pacs), exercise: %w", b.Facilities, err)
	}
	return "the northeast board, read by Riverside, shows St. Mary's diverting (ehr, pacs; exercise)" + lag(shown) + ": its neighbours prepare for the ambulances", nil
}

func aidClose(_ context.Context, w *world) (string, error) {
	for _, who := range []string{irFirm, staffing} {
		for _, step := range []string{"mobilise", "arrive", "demobilise"} {
			if _, err := w.exec(tocsin(who, "aid", step, w.ids["offer-"+who]), 0, nil); err != nil {
				return "", err
			}
		}
	}
	req := w.ids["request"]
	if _, err := w.exec(tocsin(stMary, "aid", "close", req), 0, nil); err != nil {
		return "", err
	}
	var r mutualaid.Request
	if _, err := w.exec(tocsin(stMary, "aid", "show", req), 0, &r); err != nil {
		return "", err
	}
	const steps = 12 // request, 2 offers, 2 accepts, 2 x (mobilise, arrive, demobilise), close
	if r.State != mutualaid.RequestClosed || len(r.Timeline) != steps {
		return "", fmt.Errorf("request %s with %d signed steps; the story says closed after %d", r.State, len(r.Timeline), steps)
	}
	signers := map[string]bool{}
	for _, e := range r.Timeline {
		signers[e.By] = true
		w.sum.Aid = append(w.sum.Aid, AidStep{At: e.At, Action: string(e.Action), By: e.By, State: e.State})
	}
	c, err := w.booked(irFirm, "incident-response")
	if err != nil {
		return "", err
	}
	if c.Booked != 0 {
		return "", fmt.Errorf("%s still has %d incident-response units booked after demobilising", irFirm, c.Booked)
	}
	return fmt.Sprintf("request closed after %d steps signed by %d organisations; %s's %d incident responders are free again",
		len(r.Timeline), len(signers), irFirm, c.Capacity), nil
}

// lag says how long a read took to show a write, when that was noticeable.
func lag(d time.Duration) string {
	if d < time.Second {
		return ""
	}
	return fmt.Sprintf(" (after %s: the node that answered was still catching up)", span(d))
}
