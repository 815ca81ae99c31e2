package site

import "testing"

// TestSourcedFromReadsTheHubSequenceAndIdentity: the source header's
// second field is the hub sequence, its sixth the hub stream's identity.
func TestSourcedFromReadsTheHubSequenceAndIdentity(t *testing.T) {
	for _, c := range []struct {
		h        string
		seq      uint64
		identity string
		ok       bool
	}{
		{"SECTORS:a1b2 870 > > 1 Xy12", 870, "Xy12", true},
		{"SECTORS:a1b2 870 > >", 870, "", true},
		{"SECTORS 12", 12, "", true},
		{"", 0, "", false},
		{"SECTORS", 0, "", false},
		{"SECTORS x > >", 0, "", false},
		{"SECTORS 0 > >", 0, "", false},
	} {
		seq, id, ok := sourcedFrom(c.h)
		if seq != c.seq || id != c.identity || ok != c.ok {
			t.Errorf("sourcedFrom(%q) = %d, %q, %v; want %d, %q, %v", c.h, seq, id, ok, c.seq, c.identity, c.ok)
		}
	}
}

// TestSourceGapResetsOnlyWhenTheConsumerStartsPastTheSite: the hub's
// consumer is reset to last + 1 only when it would deliver past it, on
// the same hub stream; a consumer behind what the site holds is left
// alone (the source skips what it has).
func TestSourceGapResetsOnlyWhenTheConsumerStartsPastTheSite(t *testing.T) {
	for _, c := range []struct {
		name        string
		last, next  uint64
		stored, hub string
		want        uint64
		gap         bool
	}{
		{"the chaos run's skip", 869, 1040, "id", "id", 870, true},
		{"right after the site", 869, 870, "id", "id", 0, false},
		{"behind the site (acks lag)", 869, 700, "id", "id", 0, false},
		{"a site that never stored", 0, 41, "", "id", 1, true},
		{"a fresh consumer", 0, 1, "", "id", 0, false},
		{"identities unknown", 10, 20, "", "", 11, true},
		{"a re-created hub stream", 869, 1040, "old", "new", 0, false},
	} {
		got, gap := sourceGap(c.last, c.stored, c.next, c.hub)
		if got != c.want || gap != c.gap {
			t.Errorf("%s: sourceGap(%d, %q, %d, %q) = %d, %v; want %d, %v", c.name, c.last, c.stored, c.next, c.hub, got, gap, c.want, c.gap)
		}
	}
}
