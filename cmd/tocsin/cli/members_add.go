package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// addFlags are the flags of members add.
type addFlags struct {
	id, name, region, contact, file, out string
	homeRegion                           string
	namespace                            string
	sectors, roles                       []string
	lazy                                 bool
}

func newMembersAddCmd(g *globals, run adminRun) *cobra.Command {
	var f addFlags
	cmd := &cobra.Command{
		Use:   "add (--id ID --name NAME --sectors S,... --region R [--roles member] [--contact C] [--publisher-namespace URL] | --file member.yaml) --out FILE",
		Short: "Admit a member: register it, create its consumers, issue its credentials",
		Long: `Admit a member (or every member of a seed file, in the members seed format,
without keys): each gets a new key and its credentials are written to --out
(0600; a directory when the file lists several). Nothing is overwritten.
A .csv file has the header id,name,sectors,region,roles,contact (and
publisher_namespace, for vendors); lists are separated by ";" (empty
roles: member). A vendor (a device maker publishing CSAF advisories) needs
its CSAF publisher namespace, an https URL: --publisher-namespace. Many members are registered 64 at a
time, with a progress line for each long step on stderr. More than 100 at
once get no consumers now: each member's agent has them created when it
first connects (--lazy-consumers=false creates them at admission).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ms, err := f.members()
			if err != nil {
				return err
			}
			if f.out == "" {
				return usageErr("--out is required: where the new member's credentials are written (0600)")
			}
			lazy := f.lazy
			if !cmd.Flags().Changed("lazy-consumers") {
				lazy = len(ms) > lazyAbove
			}
			return run(true, func(ctx context.Context, s *adminSession, _ []string) error {
				return addMembers(ctx, s, ms, f.out, lazy)
			})(cmd, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.id, "id", "", "member id: lowercase letters, digits, dashes (st-luke)")
	fl.StringVar(&f.name, "name", "", "organisation's display name")
	fl.StringSliceVar(&f.sectors, "sectors", nil, "sectors it belongs to (comma-separated)")
	fl.StringVar(&f.region, "region", "", "region (northeast)")
	fl.StringSliceVar(&f.roles, "roles", []string{"member"}, "roles: member, responder, liaison, vendor, admin")
	fl.StringVar(&f.homeRegion, "home-region", "", "in a supercluster of stream sets, the region whose streams the member publishes into and reads from (one of the cluster's regions; default none: the single cluster's streams); tocsin members set-home moves it")
	fl.StringVar(&f.contact, "contact", "", "24/7 contact")
	fl.StringVar(&f.namespace, "publisher-namespace", "", "a vendor's CSAF publisher namespace (https://zyx.example): its advisories' document.publisher.namespace must be this")
	fl.StringVar(&f.file, "file", "", "members to admit: a YAML list (the members seed format, without keys) or a .csv with the header id,name,sectors,region,roles,contact[,publisher_namespace]")
	fl.BoolVar(&f.lazy, "lazy-consumers", false, fmt.Sprintf("create no consumers now: each member's agent has the agent service create them when it first connects, from the start of the streams as now would (admits 10,000 members in under a minute). Default: lazy when more than %d members are admitted at once; --lazy-consumers=false creates them now", lazyAbove))
	fl.StringVar(&f.out, "out", "", "file for the credentials (a directory with --file of several members)")
	return cmd
}

// members returns the members to add, validated, from the flags or file.
func (f *addFlags) members() ([]*tocsinv1.Member, error) {
	vocab := members.DefaultVocabulary()
	if f.file != "" {
		if f.id != "" || f.name != "" || len(f.sectors) > 0 || f.region != "" || f.homeRegion != "" || f.contact != "" || f.namespace != "" {
			return nil, usageErr("--file and --id/--name/--sectors/--region/--home-region/--contact/--publisher-namespace: use one or the other (a file's members have home_region)")
		}
		ms, err := members.LoadSeed(f.file, vocab)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		for _, m := range ms {
			if len(m.GetKeys()) > 0 {
				return nil, usageErr("%s: member %q lists keys: remove them; add issues each member a new key with its credentials", f.file, m.GetId())
			}
			if err := checkNotService(m); err != nil {
				return nil, err
			}
		}
		return ms, nil
	}
	m, err := newMemberFromFlags(f)
	if err != nil {
		return nil, err
	}
	if err := members.Validate(m, vocab); err != nil {
		return nil, usageErr("%v", err)
	}
	return []*tocsinv1.Member{m}, nil
}

// lazyAbove is how many members one add may admit before their consumers
// are left to their agents by default (--lazy-consumers): at 10,000, two
// or three consumer creates each held admission for over 15 minutes on the
// loaded 2-core machine (docs/PERFORMANCE.md). A variable for the tests.
var lazyAbove = 100

// addParallel bounds the registry writes and consumer creations under
// way at once when many members are admitted.
const addParallel = 64

// addMembers registers ms with new keys, writes their credentials and
// applies the change. Nothing is written when a member exists or the
// account JWTs could not admit them all.
func addMembers(ctx context.Context, s *adminSession, ms []*tocsinv1.Member, out string, lazy bool) error {
	all, err := s.reg.List(ctx)
	if err != nil {
		return err
	}
	existing := make(map[string]bool, len(all))
	for _, m := range all {
		existing[m.GetId()] = true
	}
	for _, m := range ms {
		if existing[m.GetId()] {
			return rejectedErr(fmt.Errorf("member %q already exists: ids are never reused; tocsin members rotate-key issues new credentials", m.GetId()))
		}
	}
	if err := s.checkHomeRegions(ctx, ms); err != nil {
		return err
	}
	paths, err := credsPaths(out, ms)
	if err != nil {
		return err
	}
	creds := map[string][]byte{}
	now := time.Now()
	for _, m := range ms {
		c, pub, err := s.a.IssueMember(m)
		if err != nil {
			return usageErr("%v", err)
		}
		creds[m.GetId()] = c
		admitted(m, pub, now)
	}
	if _, err := s.a.AccountJWTs(append(all, ms...)); err != nil {
		return rejectedErr(fmt.Errorf("cannot admit: %w", err))
	}
	if len(ms) > 1 {
		s.progress("registering %d members", len(ms))
	}
	// Each member is written on its own: the credentials file, then the
	// registry record; a failure stops the rest, and what was written
	// stays (the report lists it).
	ok := make([]bool, len(ms))
	failed := parallel(ctx, addParallel, len(ms), func(i int) error {
		m := ms[i]
		if err := writeSecret(paths[m.GetId()], creds[m.GetId()]); err != nil {
			return err
		}
		if err := s.reg.Add(ctx, m); err != nil {
			os.Remove(paths[m.GetId()])
			return rejectedErr(err)
		}
		ok[i] = true
		return nil
	})
	var added []*tocsinv1.Member
	for i, m := range ms {
		if ok[i] {
			added = append(added, m)
		}
	}
	if len(added) > 0 {
		apply := s.apply
		if lazy {
			apply = s.pushAccounts
		}
		if err := apply(ctx, added); err != nil {
			return err
		}
	}
	if s.g.json {
		res := make([]memberJSON, 0, len(added))
		for _, m := range added {
			j := toJSON(m)
			j.Creds = paths[m.GetId()]
			res = append(res, j)
		}
		if err := s.g.printJSON(res); err != nil {
			return err
		}
	}
	for _, m := range added {
		if !s.g.json {
			fmt.Fprintf(s.g.stdout, "added %s (%s): credentials in %s (0600); hand them to the member over a secure channel\n",
				m.GetId(), describe(m), paths[m.GetId()])
		}
	}
	return failed
}
