package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/tocsin-project/tocsin/auth"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func newMembersSetHomeCmd(run adminRun) *cobra.Command {
	return &cobra.Command{
		Use:   "set-home ID REGION",
		Short: "Move a member to another home region: its ingest imports and consumers follow",
		Long: `In a supercluster whose regions each hold a stream set (docs/REGIONS.md),
a member's home region is where its published messages are ingested and
where its consumers read every region's copies. set-home writes REGION to
the member's record (one of the regions with a stream set; "" for none:
the single cluster's streams), creates its consumers on REGION's streams
(from their beginning: the agent's sinks drop what they had by message id),
pushes its account so that its ingest lands in REGION's INGEST, and deletes
its consumers of the region it left. A member with a site (tocsin members
site-creds) has its site consumers moved the same way; its site then needs
new credentials (site-creds again, which name the home region) and a
restart.`,
		Args: cobra.ExactArgs(2),
		RunE: run(true, func(ctx context.Context, s *adminSession, args []string) error {
			id, home := args[0], args[1]
			before, err := getMember(ctx, s, id)
			if err != nil {
				return err
			}
			if before.GetRevokedAt() != nil {
				return rejectedErr(fmt.Errorf("member %q is revoked: it has no consumers or ingest to move", id))
			}
			moved := proto.CloneOf(before)
			moved.HomeRegion = home
			if err := s.checkHomeRegions(ctx, []*tocsinv1.Member{moved}); err != nil {
				return err
			}
			m, err := s.reg.Update(ctx, id, func(m *tocsinv1.Member) error {
				m.HomeRegion = home
				return nil
			})
			if err != nil {
				return rejectedErr(err)
			}
			if err := s.apply(ctx, []*tocsinv1.Member{m}); err != nil {
				return err
			}
			// Both are tried: the region left may be away, and its
			// consumers then cannot be deleted, while the new region's
			// are created.
			if err := errors.Join(s.deleteLeftConsumers(ctx, before, m), s.moveSiteConsumers(ctx, before, m)); err != nil {
				return err
			}
			if s.g.json {
				return s.g.printJSON(toJSON(m))
			}
			fmt.Fprintf(s.g.stdout, "moved %s from %s to %s: its ingest and consumers are in %s\n",
				m.GetId(), orNoRegion(before.GetHomeRegion()), orNoRegion(m.GetHomeRegion()), orNoRegion(m.GetHomeRegion()))
			return nil
		}),
	}
}

// orNoRegion names a home region, "no region" for none.
func orNoRegion(r string) string {
	if r == "" {
		return "no region"
	}
	return "region " + r
}

// checkHomeRegions refuses members whose home region is not one of the
// cluster's regions with a stream set (auth.KnownRegions), as a usage
// error naming the known ones. Members without one need no lookup.
func (s *adminSession) checkHomeRegions(ctx context.Context, ms []*tocsinv1.Member) error {
	var homed []*tocsinv1.Member
	for _, m := range ms {
		if m.GetHomeRegion() != "" {
			homed = append(homed, m)
		}
	}
	if len(homed) == 0 {
		return nil
	}
	nc, js, err := s.serviceJS()
	if err != nil {
		return err
	}
	defer nc.Close()
	known, err := auth.KnownRegions(ctx, js)
	if err != nil {
		return err
	}
	for _, m := range homed {
		if err := auth.CheckHomeRegion(m, known); err != nil {
			return usageErr("%v", err)
		}
	}
	return nil
}

// moveSiteConsumers moves the member's site consumers (<id>-site-*) from
// before's home region to after's when it has a site (auth.MoveSiteConsumers).
func (s *adminSession) moveSiteConsumers(ctx context.Context, before, after *tocsinv1.Member) error {
	nc, js, err := s.serviceJS()
	if err != nil {
		return err
	}
	defer nc.Close()
	return auth.MoveSiteConsumers(ctx, js, before, after)
}

// deleteLeftConsumers deletes the consumers of before (a member's record
// before its home region changed) that are not after's: those of the
// region it left. Its account no longer reaches them.
func (s *adminSession) deleteLeftConsumers(ctx context.Context, before, after *tocsinv1.Member) error {
	keep := map[string]bool{}
	for _, c := range auth.Consumers(after) {
		keep[c.Stream+"."+c.Name] = true
	}
	nc, js, err := s.serviceJS()
	if err != nil {
		return err
	}
	defer nc.Close()
	for _, c := range auth.Consumers(before) {
		if keep[c.Stream+"."+c.Name] {
			continue
		}
		if err := js.DeleteConsumer(ctx, c.Stream, c.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("member %q moved, but its consumer %s on %s of the region it left was not deleted: %w; delete it with a service's credentials", after.GetId(), c.Name, c.Stream, err)
		}
	}
	return nil
}
