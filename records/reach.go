package records

import (
	"hash/fnv"
	"strconv"
	"time"
)

// Reach is one member's receipts for one message: the per-member answer
// the reach service gives (ReachReply), made from the REACH sets
// (ReachSet) of the message.
type Reach struct {
	Member       string    `json:"member"`
	Delivered    time.Time `json:"delivered,omitzero"`
	Acknowledged time.Time `json:"acknowledged,omitzero"`
	Actioned     time.Time `json:"actioned,omitzero"`
	// By is who at the member acknowledged, as the first acknowledgement
	// or actioned receipt that named one said it (Receipt.by); empty when
	// none did.
	By string `json:"by,omitempty"`
}

// ReachSet is the REACH bucket value of one sector's part of one message
// (key ReachSetKey): for each state the members that reached it, with the
// time (Unix milliseconds) they first did, and who acknowledged. The
// router writes it by compare-and-set once per window with every receipt
// of the window (alerts/reachbatch.go).
type ReachSet struct {
	Delivered    map[string]int64  `json:"d,omitempty"`
	Acknowledged map[string]int64  `json:"a,omitempty"`
	Actioned     map[string]int64  `json:"x,omitempty"`
	By           map[string]string `json:"b,omitempty"`
	// Changed are the members whose receipts this revision changed: a
	// watcher of the bucket (the console) tells them apart without the
	// previous revision.
	Changed []string `json:"c,omitempty"`
}

// ReachKey is the REACH key of an earlier version, one per member and
// message: "<message id>.<member>". Nothing writes it now; the router
// converts such keys into sets at start (alerts/reachmigrate.go). Read a
// member's receipts with ReceiptOf.
func ReachKey(refID, member string) string { return refID + "." + member }

// ReachDirect is the sector token of the REACH set of a message's inbox
// recipients (and of members no addressed sector holds). Sector names
// have no underscore, so it never names a sector.
const ReachDirect = "_direct"

// ReachShardMembers is how many members one REACH set is sized for: a
// sector of more members is split into ReachShards sets by a hash of the
// member id, so that a set stays far below the bucket's largest value (1
// MiB): a member whose every state is set, with a by of the longest,
// takes about 250 bytes.
const ReachShardMembers = 1024

// ReachShards returns how many sets a sector of members members is split
// into (at least 1).
func ReachShards(members int) int { return max(1, (members+ReachShardMembers-1)/ReachShardMembers) }

// ReachShard returns the set of shards that holds member.
func ReachShard(member string, shards int) int {
	if shards <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(member))
	return int(h.Sum32() % uint32(shards))
}

// ReachSetKey is the REACH key of shard of sector's set for sender's
// message id: "<sender>.<message>.<sector>", and
// "<sender>.<message>.<sector>.<shard>" for shards past the first.
func ReachSetKey(sender, id, sector string, shard int) string {
	k := sender + "." + id + "." + sector
	if shard > 0 {
		k += "." + strconv.Itoa(shard)
	}
	return k
}

// ReachMessagePattern matches every REACH key of sender's message id.
func ReachMessagePattern(sender, id string) string { return sender + "." + id + ".>" }

// ReachSectorPatterns match every shard of sector's set of sender's
// message id.
func ReachSectorPatterns(sender, id, sector string) []string {
	k := ReachSetKey(sender, id, sector, 0)
	return []string{k, k + ".*"}
}

// Of returns member's receipts in the set (ok false: none).
func (s *ReachSet) Of(member string) (Reach, bool) {
	r := Reach{Member: member, By: s.By[member]}
	at := func(m map[string]int64) time.Time {
		if ms, ok := m[member]; ok {
			return time.UnixMilli(ms).UTC()
		}
		return time.Time{}
	}
	r.Delivered, r.Acknowledged, r.Actioned = at(s.Delivered), at(s.Acknowledged), at(s.Actioned)
	return r, !r.Delivered.IsZero() || !r.Acknowledged.IsZero() || !r.Actioned.IsZero()
}

// Members returns every member the set has a receipt of.
func (s *ReachSet) Members() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]int64{s.Delivered, s.Acknowledged, s.Actioned} {
		for id := range m {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// MergeReach folds b into a member's receipts a (from another set: a
// member of two addressed sectors is in both): each state keeps its
// earliest time, by the first known.
func MergeReach(a, b Reach) Reach {
	early := func(x, y time.Time) time.Time {
		if x.IsZero() || (!y.IsZero() && y.Before(x)) {
			return y
		}
		return x
	}
	a.Delivered, a.Acknowledged, a.Actioned = early(a.Delivered, b.Delivered), early(a.Acknowledged, b.Acknowledged), early(a.Actioned, b.Actioned)
	if a.By == "" {
		a.By = b.By
	}
	return a
}

// Add records that member reached a state at at (with who acknowledged,
// by, for a person's receipt): each state keeps the time it was first
// reached, acknowledged and actioned imply delivered, actioned implies
// acknowledged, and by is kept from the first receipt that named one. It
// reports whether the set changed.
func (s *ReachSet) Add(member string, st ReachState, at time.Time, by string) bool {
	changed := false
	set := func(m *map[string]int64) {
		if *m == nil {
			*m = map[string]int64{}
		}
		if _, ok := (*m)[member]; !ok {
			(*m)[member] = at.UnixMilli()
			changed = true
		}
	}
	if by != "" && st != ReachDelivered && s.By[member] == "" {
		if s.By == nil {
			s.By = map[string]string{}
		}
		s.By[member] = by
		changed = true
	}
	switch st {
	case ReachActioned:
		set(&s.Actioned)
		fallthrough
	case ReachAcknowledged:
		set(&s.Acknowledged)
		fallthrough
	case ReachDelivered:
		set(&s.Delivered)
	}
	return changed
}

// ReachState is how far a member got with a message.
type ReachState int

// The states of a receipt, each implying those before it.
const (
	ReachDelivered ReachState = iota + 1
	ReachAcknowledged
	ReachActioned
)

// AffectedSet is the set of members whose delivered receipt of a CSAF
// advisory said they run an affected product (Receipt.affected), one
// sector's, kept in the SIGHTINGS bucket under AffectedKey: no member's
// credentials read that bucket (REACH the liaison may read), and nobody
// is ever told who is in it, only how many, from AffectedFloor up.
type AffectedSet struct {
	Members []string `json:"m"`
}

// AffectedKey is the SIGHTINGS key of sector's affected set of sender's
// advisory id. The router creates it, empty, when it routes a liaison's
// CSAF advisory: a receipt's affected flag is recorded only where it
// exists.
func AffectedKey(sender, id, sector string) string { return "a." + sender + "." + id + "." + sector }

// AffectedFloor is the smallest affected count shown: below it, "fewer
// than 3", so that no one member is singled out.
const AffectedFloor = 3

// AffectedTotal is one sector's count of affected members as the liaison
// is told it: Count from AffectedFloor up, otherwise FewerThan set and
// Count 0.
type AffectedTotal struct {
	Sector    string `json:"sector"`
	Count     int    `json:"count,omitempty"`
	FewerThan int    `json:"fewer_than,omitempty"`
}

// NewAffectedTotal applies the floor to n members of sector.
func NewAffectedTotal(sector string, n int) AffectedTotal {
	if n < AffectedFloor {
		return AffectedTotal{Sector: sector, FewerThan: AffectedFloor}
	}
	return AffectedTotal{Sector: sector, Count: n}
}

// String is the total as people read it: "12", "fewer than 3".
func (t AffectedTotal) String() string {
	if t.FewerThan > 0 {
		return "fewer than " + strconv.Itoa(t.FewerThan)
	}
	return strconv.Itoa(t.Count)
}

// MaxReceiptRefs is the most messages one receipt may cover (its ref_id
// and more_ref_ids).
const MaxReceiptRefs = 1024

// MaxReceiptBy is the most bytes a receipt's by (who acknowledged) may
// have.
const MaxReceiptBy = 128
