package console

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tocsin-project/tocsin/internal/kvread"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/web/store"
	"github.com/tocsin-project/tocsin/web/webauth"
)

// receiptsOf returns member's receipts of msgs by message id: read from
// the router's REACH sets that hold them (the set of each sector of the
// message the member is in, every shard, or the direct set), by batch
// direct get of those keys (no consumer; the cost follows len(msgs), not
// the bucket's size). They are what the member's agent, CLI, pager and
// console acknowledged, so the queue they leave is the same after a
// reload and on every node.
func (s *Server) receiptsOf(ctx context.Context, member *tocsinv1.Member, msgs []*store.Message) (map[string]records.Reach, error) {
	var keys []string
	for _, m := range msgs {
		keys = append(keys, memberSets(m, member)...)
	}
	entries, err := kvread.LastOfKeys(ctx, s.d.JS.Conn(), kvread.APIPrefix(s.d.JS.Options()), subjects.RegionStream(records.BucketReach, s.opts.Region), keys)
	if err != nil {
		return nil, fmt.Errorf("read the receipts of %s: %w", member.GetId(), err)
	}
	out := make(map[string]records.Reach, len(entries))
	for _, e := range entries {
		var set records.ReachSet
		if json.Unmarshal(e.Value, &set) != nil {
			continue
		}
		r, ok := set.Of(member.GetId())
		if !ok {
			continue
		}
		_, rest, _ := strings.Cut(e.Key, ".")
		id, _, _ := strings.Cut(rest, ".")
		if prev, seen := out[id]; seen {
			r = records.MergeReach(prev, r)
		}
		out[id] = r
	}
	return out, nil
}

// memberSets are the REACH key patterns of the sets of m that may hold
// member's receipts: every shard of each of its sectors m was routed to,
// and the direct set.
func memberSets(m *store.Message, member *tocsinv1.Member) []string {
	keys := []string{records.ReachSetKey(m.Sender, m.ID, records.ReachDirect, 0)}
	for _, sector := range m.Sectors {
		if slices.Contains(member.GetSectors(), sector) {
			keys = append(keys, records.ReachSectorPatterns(m.Sender, m.ID, sector)...)
		}
	}
	return keys
}

// done reports whether a receipt settles a message for the queue: the
// member acknowledged it or acted on it.
func done(r records.Reach) bool { return !r.Acknowledged.IsZero() || !r.Actioned.IsZero() }

// severity orders lanes for the queue: flash first.
func severity(lane string) int {
	l := tocsinv1.Lane(tocsinv1.Lane_value["LANE_"+strings.ToUpper(lane)])
	return records.SeverityOf(l).CEF
}

// unacknowledged returns, of msgs, those member did not send and has not
// acknowledged (nor actioned), most severe first, then newest first.
func unacknowledged(member string, msgs []*store.Message, receipts map[string]records.Reach) []*store.Message {
	var out []*store.Message
	for _, m := range msgs {
		if m.Sender != member && !done(receipts[m.ID]) {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b *store.Message) int {
		return cmp.Or(cmp.Compare(severity(b.Lane), severity(a.Lane)), b.Added.Compare(a.Added))
	})
	return out
}

// queueView is what still needs the member.
type queueView struct {
	// Messages are the unacknowledged messages, most severe first.
	Messages []messageView `json:"messages"`
	// Count is len(Messages); Flash how many of them are on the flash lane.
	Count int `json:"count"`
	Flash int `json:"flash"`
	// Ready is false while the node's index is still catching up.
	Ready bool `json:"ready"`
}

// queue is GET api/queue: the messages routed to the member that it has
// not acknowledged, computed from what is stored (the web index and the
// REACH receipts), never from the page.
func (s *Server) queue(w http.ResponseWriter, r *http.Request, id *webauth.Identity) {
	var routed []*store.Message
	for _, m := range s.d.Store.Messages(id.Member, "", 0) {
		if m.Sender != id.Member.GetId() {
			routed = append(routed, m)
		}
	}
	receipts, err := s.receiptsOf(r.Context(), id.Member, routed)
	if err != nil {
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	out := queueView{Messages: []messageView{}, Ready: s.d.Store.IsReady()}
	for _, m := range unacknowledged(id.Member.GetId(), routed, receipts) {
		out.Messages = append(out.Messages, s.listView(id.Member, m, receipts))
		if m.Lane == "flash" {
			out.Flash++
		}
	}
	out.Count = len(out.Messages)
	writeJSON(w, http.StatusOK, out)
}
