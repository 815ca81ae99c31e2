package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/auth"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func newMembersSiteCredsCmd(run adminRun) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "site-creds ID --out FILE",
		Short: "Issue the credentials of a member's site (tocsin site) and create its hub consumers",
		Long: `Issue credentials for the member's site (docs/SITES.md): a leaf-node-only
user in the member's account, allowed to source the member's own routed
copies, inbox and rejections and to forward the member's messages, nothing
else. The member's site consumers (<id>-site-sectors, -inbox, -rejections)
are created at the hub and the account JWTs pushed. Revoking the member cuts
its site off too.`,
		Args: cobra.ExactArgs(1),
		RunE: run(true, func(ctx context.Context, s *adminSession, args []string) error {
			if out == "" {
				return usageErr("--out FILE is required: where the site's credentials are written (0600)")
			}
			m, err := getMember(ctx, s, args[0])
			if err != nil {
				return err
			}
			creds, err := s.a.IssueSite(m)
			if err != nil {
				return rejectedErr(err)
			}
			nc, js, err := s.serviceJS()
			if err != nil {
				return err
			}
			defer nc.Close()
			if err := auth.EnsureSiteConsumers(ctx, js, m); err != nil {
				return err
			}
			if err := writeSecret(out, creds); err != nil {
				return err
			}
			if err := s.apply(ctx, []*tocsinv1.Member{m}); err != nil {
				os.Remove(out)
				return err
			}
			if s.g.json {
				return s.g.printJSON(map[string]any{"member": m.GetId(), "creds": out, "consumers": len(auth.SiteConsumers(m))})
			}
			fmt.Fprintf(s.g.stdout, "site credentials of %s in %s (0600): run tocsin site --hub URL --creds %s --data DIR at the member's premises\n", m.GetId(), out, out)
			return nil
		}),
	}
	cmd.Flags().StringVar(&out, "out", "", "file for the site's credentials (must not exist)")
	return cmd
}
