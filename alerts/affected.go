package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
)

// openAffected creates, for a liaison's CSAF advisory, the empty affected
// set of each sector, before the advisory is recorded and sent: the
// members' delivered receipts that say they are affected are counted
// there (reachbatch.go), and only there. A vendor's advisory gets none:
// only the liaison is told affected totals, and only of its own
// advisories. A set that exists already (a redelivery) is kept.
func (r *Router) openAffected(ctx context.Context, sender *tocsinv1.Member, id string, sectors []string) error {
	if !members.HasRole(sender, tocsinv1.Role_ROLE_LIAISON) {
		return nil
	}
	empty, _ := json.Marshal(records.AffectedSet{Members: []string{}})
	for _, s := range sectors {
		if _, err := r.sightings.Create(ctx, records.AffectedKey(sender.GetId(), id, s), empty); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("open the affected count of %s in %s: %w", id, s, err)
		}
	}
	return nil
}
