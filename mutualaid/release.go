package mutualaid

import "context"

// end moves request r to state to (closed, cancelled or expired) and
// releases every unit it still books: each offer accepted, mobilising or
// on site becomes released and its booking leaves its responder's record.
// It returns the writes of the step, r's first, for one atomic batch, so
// the request never ends with units still held for it.
func (s *Service) end(ctx context.Context, r *Request, rev uint64, to RequestState) ([]write, error) {
	r.State = to
	writes := []write{{requestKey(r.ID), r, rev}}
	changed := map[string]*responderRecord{}
	for _, o := range r.Offers {
		if !o.State.booked() {
			continue
		}
		o.State = OfferReleased
		rec, seen := changed[o.Responder]
		if !seen {
			var rrev uint64
			var err error
			if rec, rrev, err = load[responderRecord](ctx, s, responderKey(o.Responder)); err != nil {
				return nil, err
			}
			changed[o.Responder] = rec
			if rec != nil {
				writes = append(writes, write{responderKey(o.Responder), rec, rrev})
			}
		}
		if rec != nil {
			delete(rec.Bookings, o.ID)
		}
	}
	return writes, nil
}

// booked reports whether an offer in state s holds its responder's units.
func (s OfferState) booked() bool {
	return s == OfferAccepted || s == OfferMobilising || s == OfferOnSite
}

// endNotified are the responders told of the request's end: those with an
// offer still in play or released by the end (finish drops repeats).
func (r *Request) endNotified() []string {
	out := r.liveResponders()
	for _, o := range r.Offers {
		if o.State == OfferReleased {
			out = append(out, o.Responder)
		}
	}
	return out
}
