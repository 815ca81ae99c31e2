package agent

import (
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// echoed is the verdict on a receipt in the member's inbox: the router's
// echo of an acknowledgement (or actioned receipt) the member itself sent,
// from any of its agents, the CLI or the console. It is not a record:
// nothing goes to the sinks or the quarantine, no receipt is owed, and the
// copy is acknowledged; the pager stops escalating the messages it covers.
type echoed struct {
	receipt *tocsinv1.Receipt
}

func (e *echoed) Error() string { return "the echo of an acknowledgement of " + e.receipt.GetRefId() }

// checkEcho checks a receipt delivered on subject d: only the member's own
// acknowledgements come back, and only to its own inbox. It returns an
// *echoed for one that does, a *refusal otherwise.
func (c *checker) checkEcho(d destination, sender *tocsinv1.Member, rc *tocsinv1.Receipt) error {
	switch {
	case d.inbox != c.me:
		return refuse(ReasonUnexpectedKind, "a receipt outside %s's inbox; a receipt comes back only to its sender's own inbox", c.me)
	case sender.GetId() != c.me:
		return refuse(ReasonNotAddressed, "a receipt of %s in %s's inbox; only the member's own acknowledgements are echoed to it", sender.GetId(), c.me)
	case rc.GetState() == tocsinv1.ReceiptState_RECEIPT_STATE_DELIVERED:
		return refuse(ReasonUnexpectedKind, "a delivered receipt in %s's inbox; only acknowledgements are echoed", c.me)
	}
	return &echoed{receipt: rc}
}

// settleEcho settles the pager's page of every message rc acknowledges
// (someone at the member has taken it, here or elsewhere).
func (a *Agent) settleEcho(rc *tocsinv1.Receipt) {
	for _, id := range append([]string{rc.GetRefId()}, rc.GetMoreRefIds()...) {
		a.settlePage(id, rc.GetState(), rc.GetBy())
	}
}

// receiptOf is the member's receipt of message id in state. It names the
// message's sender (ref_sender: the router then reads that sender's
// outcome, from the bucket's leader) and the region whose router routed
// the copy (ref_region, that of its subject, tocsin.r.<region>.…: the
// receipt is filed in that region's REACH; "" on a single cluster) when
// the message is among the records written lately, else the page of it
// when it was paged; else neither, and the router finds the sender in its
// own region.
func (a *Agent) receiptOf(id string, state tocsinv1.ReceiptState, note string) *tocsinv1.Receipt {
	rc := NewReceipt(id, state, note)
	for _, r := range a.recent.last(a.recent.max) {
		if r.ID == id {
			rc.RefSender, rc.RefRegion = r.Sender, r.region()
			return rc
		}
	}
	if p := a.opts.Pager; p != nil {
		if m, ok := p.Message(id); ok {
			rc.RefSender, rc.RefRegion = m.Sender, m.Region
		}
	}
	return rc
}
