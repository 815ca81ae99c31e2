package metrics

import (
	"slices"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A region's copies streams are members' streams, and its consumers'
// filters (every region's copies of a sector) name their sectors.
func TestMembersConsumersOfARegionsStreams(t *testing.T) {
	for stream, want := range map[string]bool{"SECTORS": true, "SECTORS-east": true, "INBOX-west": true, "INGEST-east": false, "KV_MEMBERS-east": false} {
		if isMemberStream(stream) != want {
			t.Errorf("isMemberStream(%q) = %v", stream, !want)
		}
	}
	got := sectorsOf(jetstream.ConsumerConfig{FilterSubjects: []string{"tocsin.r.*.sector.patient-care.>", "tocsin.r.*.sector.pharmacy.>"}})
	if !slices.Equal(got, []string{"patient-care", "pharmacy"}) {
		t.Fatalf("sectors of a region's consumer: %v", got)
	}
}
