package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/internal/days"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/web/webauth"
)

func init() { register(newTokenCmd) }

// defaultTokenTTL is how long an issued token lasts unless --ttl says.
const defaultTokenTTL = 90 * 24 * time.Hour

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Issue, list and revoke members' access tokens for TAXII and the console (admin)",
		Long: `Manage the access tokens with which members sign in to TAXII 2.1 and the web
console of every node: HTTP Basic with the member id as user name and the token
as password, or "Authorization: Bearer <token>", over HTTPS. Tokens live in the
cluster (bucket WEBTOKENS, only their SHA-256): every node accepts a token as
soon as it is issued, and refuses it within seconds of a revoke, console
sessions opened with it included. Run it with an admin's credentials (--creds,
default $TOCSIN_CREDS, else KEYS/admin.creds or DATA/creds/admin.creds).

On a channel with a stream set per region (docs/REGIONS.md) each region's nodes
keep their own tokens, WEBTOKENS-<region>: a token works at the consoles and
TAXII of the region that holds it. --region names that region; issue defaults
to the member's home region (tocsin members show), where its console is. An
admin's credentials reach only WEBTOKENS, so a region's tokens are written with a
service connection issued from the keys (--keys, as tocsin members takes them),
after the admin's credentials have opened the registry.`,
	}
	var region, keys string
	run := func(f func(context.Context, *tokenSession, []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			if region != "" && !regionName.MatchString(region) {
				return usageErr("--region %q is not a region's name (a gateway cluster name: letters, digits, '-', '_')", region)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			s, err := openTokens(ctx, g, keys, region)
			if err != nil {
				return err
			}
			defer s.close()
			return f(ctx, s, args)
		}
	}
	cmd.PersistentFlags().StringVar(&region, "region", "", "the region whose consoles and TAXII the tokens are for (WEBTOKENS-<region>), on a channel with a stream set per region; issue's default: the member's home region")
	cmd.PersistentFlags().StringVar(&keys, "keys", defaultKeys(), "the operator keys directory, for a region's tokens ($TOCSIN_KEYS)")
	cmd.AddCommand(newTokenIssueCmd(run), newTokenListCmd(run), newTokenRevokeCmd(run))
	return cmd
}

// tokenRun wraps a token subcommand: an admin session bounded by --timeout.
type tokenRun func(f func(context.Context, *tokenSession, []string) error) func(*cobra.Command, []string) error

// tokenSession is an admin's registry and a connection to the cluster's
// access tokens.
type tokenSession struct {
	*adminSession
	// keys and region are --keys and --region.
	keys, region string
	// svc is the service connection a region's tokens are reached with.
	svc *nats.Conn
}

// openTokens connects as an admin and opens the registry.
func openTokens(ctx context.Context, g *globals, keys, region string) (*tokenSession, error) {
	s, err := openAdmin(ctx, g, keys, false)
	if err != nil {
		return nil, err
	}
	return &tokenSession{adminSession: s, keys: keys, region: region}, nil
}

// tokensIn opens the tokens of region: WEBTOKENS with the admin's own
// connection for none, else WEBTOKENS-<region> with a service connection
// issued from the keys.
func (s *tokenSession) tokensIn(ctx context.Context, region string) (*webauth.Tokens, error) {
	nc := s.nc
	if region != "" {
		if s.svc == nil {
			a, err := auth.Load(s.keys)
			if err != nil {
				return nil, usageErr("--keys %q: %v; a region's tokens (region %s) are written with a service connection issued from the operator keys: run where they are", s.keys, err, region)
			}
			s.a = a
			if s.svc, _, err = s.serviceJS(); err != nil {
				return nil, err
			}
		}
		nc = s.svc
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	tokens, err := webauth.OpenTokensIn(ctx, js, subjects.RegionStream(webauth.Bucket, region))
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound) && region == "":
		return nil, rejectedErr(fmt.Errorf("%w; on a channel with a stream set per region each region has its own: name it with --region <region>", err))
	case errors.Is(err, jetstream.ErrBucketNotFound):
		return nil, rejectedErr(fmt.Errorf("%w; is %q one of the channel's regions (gateway.regions)?", err, region))
	case err != nil:
		return nil, tokenRightsErr(err)
	}
	return tokens, nil
}

func (s *tokenSession) close() {
	if s.svc != nil {
		s.svc.Close()
	}
	s.adminSession.close()
}

// tokenRightsErr explains a refusal to reach WEBTOKENS: admins of a
// cluster set up before tocsin token existed get its rights with the next
// push of the account JWTs.
func tokenRightsErr(err error) error {
	if errors.Is(err, nats.ErrPermissionViolation) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		return rejectedErr(fmt.Errorf("%w; are these an admin's credentials? On a cluster set up by an older tocsin, "+
			"run `tocsin members sync` (with the keys) once so that admins get the rights to manage access tokens", err))
	}
	return err
}

// tokenJSON is a token as issue, list and revoke print it with --json; the
// secret only from issue.
type tokenJSON struct {
	ID      string `json:"id"`
	Member  string `json:"member"`
	Label   string `json:"label,omitempty"`
	Created string `json:"created"`
	Expires string `json:"expires,omitempty"`
	Status  string `json:"status"`
	Token   string `json:"token,omitempty"`
	// Region is the region whose WEBTOKENS-<region> holds it (issue).
	Region string `json:"region,omitempty"`
}

func tokenToJSON(rec webauth.Issued, now time.Time) tokenJSON {
	j := tokenJSON{ID: rec.Key(), Member: rec.Member, Label: rec.Label, Created: rec.Created.UTC().Format(time.RFC3339), Status: "active"}
	if !rec.Expires.IsZero() {
		j.Expires = rec.Expires.UTC().Format(time.RFC3339)
		if !now.Before(rec.Expires) {
			j.Status = "expired"
		}
	}
	return j
}

func newTokenIssueCmd(run tokenRun) *cobra.Command {
	var member, label, ttlText string
	cmd := &cobra.Command{
		Use:   "issue --member ID [--ttl 90d] [--label TEXT]",
		Short: "Issue an access token for a member; it is shown once",
		Long: `Issue an access token for a member and print it, once: only its hash is kept.
Hand it to the member over a secure channel. --ttl is how long it works
(90d by default; days as Nd, or a duration such as 12h; "never" for until
revoked).`,
		Args: cobra.NoArgs,
		RunE: run(func(ctx context.Context, s *tokenSession, _ []string) error {
			ttl, err := parseTTL(ttlText)
			if err != nil {
				return err
			}
			if member == "" {
				return usageErr("--member ID is required: the member the token signs in as")
			}
			m, err := getMember(ctx, s.adminSession, member)
			if err != nil {
				return err
			}
			switch {
			case m.GetRevokedAt() != nil:
				return rejectedErr(fmt.Errorf("member %s is revoked: no token would work", member))
			case members.HasRole(m, tocsinv1.Role_ROLE_SERVICE):
				return rejectedErr(fmt.Errorf("%s is a node's service, not a member: the web face refuses services", member))
			}
			region := s.region
			if region == "" {
				region = m.GetHomeRegion() // where its console is
			}
			tokens, err := s.tokensIn(ctx, region)
			if err != nil {
				return err
			}
			if label == "" {
				label = "issued " + time.Now().UTC().Format("2006-01-02")
			}
			token, rec, err := tokens.IssueRecord(ctx, member, label, ttl)
			if err != nil {
				return tokenRightsErr(err)
			}
			j := tokenToJSON(*rec, time.Now())
			j.Token, j.Region = token, region
			if s.g.json {
				return s.g.printJSON(j)
			}
			expires := "never (until revoked)"
			if j.Expires != "" {
				expires = j.Expires
			}
			where, revoke := "", j.ID
			if region != "" {
				where, revoke = " of region "+region, "--region "+region+" "+j.ID
			}
			fmt.Fprintf(s.g.stdout, "access token %s for %s, expires %s:\n\n  %s\n\n", j.ID, member, expires, token)
			fmt.Fprintf(s.g.stdout, "It is shown once: hand it to %s over a secure channel. It signs in over https to TAXII\n"+
				"(HTTP Basic: user %s, the token as password; or \"Authorization: Bearer <token>\") and the console%s.\n"+
				"Revoke it with: tocsin token revoke %s\n", member, member, where, revoke)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&member, "member", "", "member id the token signs in as")
	f.StringVar(&label, "label", "", `what the token is for ("misp feed"); default "issued <date>"`)
	f.StringVar(&ttlText, "ttl", "90d", `how long the token works: Nd, a duration such as 12h, or "never"`)
	return cmd
}

// tokenID is the id part ("<member>.<id>") of an issued token.
func tokenID(token string) string {
	parts := strings.Split(strings.TrimPrefix(token, webauth.IssuedPrefix), ".")
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "." + parts[1]
}

// parseTTL reads --ttl: "never" (or 0) for no expiry, else a duration in
// the syntax of every duration flag (days.Parse: 90d, 12h, 1d12h).
func parseTTL(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "never" || s == "0" {
		return 0, nil
	}
	d, err := days.Parse(s)
	if err != nil || d <= 0 {
		return 0, usageErr(`--ttl %q: use days (90d), a duration (12h) or "never"`, s)
	}
	return d, nil
}

func newTokenListCmd(run tokenRun) *cobra.Command {
	var member string
	cmd := &cobra.Command{
		Use:   "list [--member ID]",
		Short: "List access tokens (never their secrets): id, member, label, created, expires",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, s *tokenSession, _ []string) error {
			tokens, err := s.tokensIn(ctx, s.region)
			if err != nil {
				return err
			}
			all, err := tokens.List(ctx, member)
			if err != nil {
				return err
			}
			slices.SortFunc(all, func(a, b webauth.Issued) int {
				return strings.Compare(a.Member+a.Created.Format(time.RFC3339Nano), b.Member+b.Created.Format(time.RFC3339Nano))
			})
			now := time.Now()
			out := make([]tokenJSON, 0, len(all))
			for _, rec := range all {
				out = append(out, tokenToJSON(rec, now))
			}
			if s.g.json {
				return s.g.printJSON(out)
			}
			printTokens(s.g.stdout, out)
			return nil
		}),
	}
	cmd.Flags().StringVar(&member, "member", "", "only this member's tokens")
	return cmd
}

func printTokens(w io.Writer, all []tokenJSON) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMEMBER\tLABEL\tCREATED\tEXPIRES\tSTATUS")
	for _, t := range all {
		expires := t.Expires
		if expires == "" {
			expires = "never"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Member, t.Label, t.Created, expires, t.Status)
	}
	tw.Flush()
}

func newTokenRevokeCmd(run tokenRun) *cobra.Command {
	var member string
	cmd := &cobra.Command{
		Use:   "revoke TOKEN_ID... | --member ID",
		Short: "Revoke access tokens: every node refuses them within seconds, with the console sessions they opened",
		Long: `Revoke access tokens by id (<member>.<id>, as tocsin token list shows), or every
token of a member with --member. Every node refuses them within seconds, and
ends the console sessions opened with them. The member's NATS credentials are
not affected (tocsin members revoke cuts a member off entirely).`,
		RunE: run(func(ctx context.Context, s *tokenSession, args []string) error {
			if (len(args) == 0) == (member == "") {
				return usageErr("name the tokens to revoke (TOKEN_ID...) or a member (--member ID), not both")
			}
			tokens, err := s.tokensIn(ctx, s.region)
			if err != nil {
				return err
			}
			var recs []webauth.Issued
			for _, id := range args {
				rec, err := tokens.Get(ctx, id)
				if errors.Is(err, webauth.ErrNoToken) {
					return rejectedErr(fmt.Errorf("%w; tocsin token list shows the tokens there are", err))
				}
				if err != nil {
					return err
				}
				recs = append(recs, *rec)
			}
			if member != "" {
				all, err := tokens.List(ctx, member)
				if err != nil {
					return err
				}
				recs = all
			}
			now := time.Now()
			out := make([]tokenJSON, 0, len(recs))
			for _, rec := range recs {
				if err := tokens.Revoke(ctx, rec.Key()); err != nil {
					return tokenRightsErr(err)
				}
				j := tokenToJSON(rec, now)
				j.Status = "revoked"
				out = append(out, j)
			}
			if s.g.json {
				return s.g.printJSON(out)
			}
			if len(out) == 0 {
				fmt.Fprintf(s.g.stdout, "%s has no access tokens: nothing to revoke\n", member)
				return nil
			}
			for _, j := range out {
				fmt.Fprintf(s.g.stdout, "revoked %s (%s)\n", j.ID, j.Label)
			}
			fmt.Fprintln(s.g.stdout, "every node refuses them within seconds; console sessions opened with them end too")
			return nil
		}),
	}
	cmd.Flags().StringVar(&member, "member", "", "revoke every token of this member")
	return cmd
}
