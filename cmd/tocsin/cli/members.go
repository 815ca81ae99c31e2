package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func init() { register(newMembersCmd) }

func newMembersCmd(g *globals) *cobra.Command {
	var keys string
	cmd := &cobra.Command{
		Use:   "members",
		Short: "Admit, list, show, revoke members and rotate their keys (admin)",
		Long: `Manage the member registry. Run it where the keys are (--keys, default
$TOCSIN_KEYS, else .dev/auth of tocsin dev) with an admin's credentials
(--creds, default KEYS/admin.creds or DATA/creds/admin.creds). A change is
written to the registry, the member's consumers are created, and both account
JWTs are recomputed from the registry and pushed to every node, which applies
them at once: a revoked member is cut off within seconds.`,
	}
	cmd.PersistentFlags().StringVar(&keys, "keys", defaultKeys(), "directory of the authority's keys (tocsin init --dir; $TOCSIN_KEYS)")
	run := func(change bool, f func(context.Context, *adminSession, []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			s, err := openAdmin(ctx, g, keys, change)
			if err != nil {
				return err
			}
			defer s.close()
			return f(ctx, s, args)
		}
	}
	cmd.AddCommand(newMembersAddCmd(g, run), newMembersListCmd(run), newMembersShowCmd(run),
		newMembersRevokeCmd(run), newMembersRotateCmd(run), newMembersSyncCmd(run), newMembersSiteCredsCmd(run), newMembersSetHomeCmd(run))
	return cmd
}

// adminRun wraps a members subcommand: an admin session (with the keys
// when change is set) bounded by --timeout.
type adminRun func(change bool, f func(context.Context, *adminSession, []string) error) func(*cobra.Command, []string) error

func newMembersListCmd(run adminRun) *cobra.Command {
	var (
		limit                 int
		after, sector, region string
		status                string
	)
	cmd := &cobra.Command{
		Use:   "list [--limit N] [--after ID] [--sector S] [--region R] [--status active|revoked]",
		Short: "List the members, a page at a time: id, name, roles, sectors, region, status",
		Long: `Lists the members in id order, --limit at a time (default 100; 0 for all),
starting after --after; the last line says how to get the next page. --sector,
--region and --status keep only the members that match. --json prints the page
as a JSON array, and the next page's command on stderr.`,
		Args: cobra.NoArgs,
		RunE: run(false, func(ctx context.Context, s *adminSession, _ []string) error {
			if limit < 0 {
				return usageErr("--limit %d: use a positive number, or 0 for every member", limit)
			}
			switch status {
			case "", "active", "revoked":
			default:
				return usageErr("--status %q: use active or revoked", status)
			}
			all, err := s.reg.List(ctx)
			if err != nil {
				return err
			}
			var match []*tocsinv1.Member
			for _, m := range all {
				revoked := m.GetRevokedAt() != nil
				if (after != "" && m.GetId() <= after) || (sector != "" && !slices.Contains(m.GetSectors(), sector)) ||
					(region != "" && m.GetRegion() != region) || (status == "active" && revoked) || (status == "revoked" && !revoked) {
					continue
				}
				match = append(match, m)
			}
			slices.SortFunc(match, func(a, b *tocsinv1.Member) int { return strings.Compare(a.GetId(), b.GetId()) })
			page, more := match, 0
			if limit > 0 && len(match) > limit {
				page, more = match[:limit], len(match)-limit
			}
			next := ""
			if more > 0 {
				next = fmt.Sprintf("%d more: tocsin members list --after %s", more, page[len(page)-1].GetId())
				if limit != 100 {
					next += fmt.Sprintf(" --limit %d", limit)
				}
			}
			if s.g.json {
				out := make([]memberJSON, 0, len(page))
				for _, m := range page {
					out = append(out, toJSON(m))
				}
				if next != "" {
					fmt.Fprintln(s.g.stderr, next)
				}
				return s.g.printJSON(out)
			}
			printMembers(s.g.stdout, page)
			if next != "" {
				fmt.Fprintf(s.g.stdout, "%d of %d shown; %s\n", len(page), len(match), next)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.IntVar(&limit, "limit", 100, "members per page (0: every member)")
	f.StringVar(&after, "after", "", "start after this member id (the previous page's last)")
	f.StringVar(&sector, "sector", "", "only members of this sector")
	f.StringVar(&region, "region", "", "only members of this region")
	f.StringVar(&status, "status", "", "only active or only revoked members")
	return cmd
}

func newMembersShowCmd(run adminRun) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one member, with contact, keys and capabilities",
		Args:  cobra.ExactArgs(1),
		RunE: run(false, func(ctx context.Context, s *adminSession, args []string) error {
			m, err := getMember(ctx, s, args[0])
			if err != nil {
				return err
			}
			if s.g.json {
				return s.g.printJSON(toJSON(m))
			}
			printMember(s.g.stdout, m)
			return nil
		}),
	}
}

func getMember(ctx context.Context, s *adminSession, id string) (*tocsinv1.Member, error) {
	m, err := s.reg.Get(ctx, id)
	if errors.Is(err, members.ErrNotFound) {
		return nil, rejectedErr(fmt.Errorf("no member %q: %w; tocsin members list shows who there is", id, err))
	}
	return m, err
}

func newMembersRevokeCmd(run adminRun) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Cut a member off everywhere: its connections are closed and its credentials refused",
		Args:  cobra.ExactArgs(1),
		RunE: run(true, func(ctx context.Context, s *adminSession, args []string) error {
			if _, err := getMember(ctx, s, args[0]); err != nil {
				return err
			}
			all, err := s.reg.List(ctx)
			if err != nil {
				return err
			}
			if err := keepsAnAdmin(all, args[0]); err != nil {
				return err
			}
			m, err := s.reg.Revoke(ctx, args[0], time.Time{})
			if err != nil {
				return err
			}
			if err := s.apply(ctx, []*tocsinv1.Member{m}); err != nil {
				return err
			}
			if s.g.json {
				return s.g.printJSON(toJSON(m))
			}
			fmt.Fprintf(s.g.stdout, "revoked %s at %s: its connections are closed and its credentials refused on every node; messages it signed before stay valid\n",
				m.GetId(), m.GetRevokedAt().AsTime().Format(time.RFC3339))
			return nil
		}),
	}
}

func newMembersRotateCmd(run adminRun) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "rotate-key ID --out FILE",
		Short: "Issue new credentials with a new key; the old key's credentials stop working",
		Long: `Issue new credentials with a new key and end the old key's validity now:
what it signed before still verifies, but its credentials can no longer
connect (open connections are closed). Hand the new file to the member.`,
		Args: cobra.ExactArgs(1),
		RunE: run(true, func(ctx context.Context, s *adminSession, args []string) error {
			if out == "" {
				return usageErr("--out FILE is required: where the new credentials are written (0600)")
			}
			m, err := getMember(ctx, s, args[0])
			if err != nil {
				return err
			}
			creds, pub, err := s.a.IssueMember(m)
			if err != nil {
				return rejectedErr(err)
			}
			if err := writeSecret(out, creds); err != nil {
				return err
			}
			if m, err = s.reg.RotateKey(ctx, m.GetId(), pub, time.Time{}); err != nil {
				os.Remove(out)
				return rejectedErr(err)
			}
			if err := s.apply(ctx, []*tocsinv1.Member{m}); err != nil {
				return err
			}
			if s.g.json {
				return s.g.printJSON(toJSON(m))
			}
			fmt.Fprintf(s.g.stdout, "rotated the key of %s: new key %s; new credentials in %s (0600): hand them to the member over a secure channel; the old credentials no longer connect\n",
				m.GetId(), pub, out)
			return nil
		}),
	}
	cmd.Flags().StringVar(&out, "out", "", "file for the new credentials (must not exist)")
	return cmd
}

func newMembersSyncCmd(run adminRun) *cobra.Command {
	return &cobra.Command{
		Use:   "sync",
		Short: "Create every member's consumers and push the account JWTs again (after a failed change)",
		Args:  cobra.NoArgs,
		RunE: run(true, func(ctx context.Context, s *adminSession, _ []string) error {
			all, err := s.reg.List(ctx)
			if err != nil {
				return err
			}
			return s.apply(ctx, all)
		}),
	}
}

// newMemberFromFlags builds a member from add's flags.
func newMemberFromFlags(f *addFlags) (*tocsinv1.Member, error) {
	m := &tocsinv1.Member{Id: f.id, Name: f.name, Sectors: f.sectors, Region: f.region, HomeRegion: f.homeRegion, Contact: f.contact, PublisherNamespace: f.namespace}
	for _, r := range f.roles {
		role, err := members.ParseRole(strings.TrimSpace(r))
		if err != nil {
			return nil, usageErr("--roles: %v", err)
		}
		m.Roles = append(m.Roles, role)
	}
	return m, checkNotService(m)
}

// checkNotService refuses the service role: its credentials would be
// unrestricted. Each node registers its own service member.
func checkNotService(m *tocsinv1.Member) error {
	if members.HasRole(m, tocsinv1.Role_ROLE_SERVICE) {
		return usageErr("member %q: the service role is Tocsin's own (each node registers svc-<node>); its credentials would be unrestricted", m.GetId())
	}
	return nil
}

// admitted sets m's first key and creation time.
func admitted(m *tocsinv1.Member, pub string, now time.Time) {
	m.Keys = []*tocsinv1.SigningKey{{PublicKey: pub, NotBefore: timestamppb.New(now.Add(-time.Minute))}}
	m.CreatedAt = timestamppb.New(now)
}

// credsPaths is where add writes each new member's credentials: out itself
// for one member, out/<id>.creds for several.
func credsPaths(out string, ms []*tocsinv1.Member) (map[string]string, error) {
	paths := map[string]string{}
	if len(ms) == 1 {
		paths[ms[0].GetId()] = out
		return paths, nil
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, usageErr("--out %q: several members need a directory: %v", out, err)
	}
	for _, m := range ms {
		paths[m.GetId()] = filepath.Join(out, m.GetId()+".creds")
	}
	return paths, nil
}
