package members

import (
	"context"

	"github.com/tocsin-project/tocsin/internal/kvread"
)

// readLatest reads the latest record of key id and its revision from the
// stream leader (kvread.Leader): Get must see a member just added, and
// Update must not keep losing its compare-and-set on a stale revision.
func (r *Registry) readLatest(ctx context.Context, id string) (data []byte, rev uint64, ok bool, err error) {
	return kvread.Leader(ctx, r.js, r.bucket, id)
}
