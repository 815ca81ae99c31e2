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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// pushUser is the system user's name with which account JWTs are pushed.
const pushUser = "tocsin-push"

// adminSession is an admin at work: the registry over the admin's
// connection and, for changes, the keys that sign account JWTs and
// credentials.
type adminSession struct {
	g    *globals
	keys string
	a    *auth.Authority
	nc   *nats.Conn
	reg  *members.Registry
}

// defaultKeys is --keys when not given: $TOCSIN_KEYS, else the keys of a
// dev cluster in ./.dev.
func defaultKeys() string {
	return envOr("TOCSIN_KEYS", filepath.Join(".dev", "auth"))
}

// adminCreds is --creds, else the admin credentials next to the keys:
// DIR/admin.creds (tocsin init) or DATA/creds/admin.creds (tocsin dev).
func adminCreds(creds, keys string) string {
	if creds != "" {
		return creds
	}
	for _, p := range []string{filepath.Join(keys, "admin.creds"), filepath.Join(keys, "..", "creds", "admin.creds")} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// openAdmin connects with the admin's credentials and opens the registry;
// with change set it also loads the keys and seeds the first admin's record
// (tocsin init's admins.yaml) if the registry lacks it.
func openAdmin(ctx context.Context, g *globals, keys string, change bool) (*adminSession, error) {
	s := &adminSession{g: g, keys: keys}
	if g.creds = adminCreds(g.creds, keys); g.creds == "" {
		return nil, usageErr("--creds: an admin's .creds file is required (tocsin init wrote KEYS/admin.creds)")
	}
	if change {
		a, err := auth.Load(keys)
		if err != nil {
			return nil, usageErr("--keys %q: %v; run where the keys are (tocsin init --dir, or DATA/auth of tocsin dev)", keys, err)
		}
		s.a = a
	}
	// A member's credentials have no right to the registry: the server
	// refuses the first request with a permissions violation, which comes
	// back asynchronously; it ends the wait at once instead of a timeout.
	ctx, refused := context.WithCancelCause(ctx)
	defer refused(nil)
	nc, err := g.connect(ctx, "tocsin members", nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			refused(err)
		}
	}))
	if err != nil {
		return nil, err
	}
	s.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		s.close()
		return nil, err
	}
	if s.reg, err = members.OpenUncached(ctx, js, members.DefaultVocabulary(), zap.NewNop()); err != nil {
		s.close()
		if cause := context.Cause(ctx); errors.Is(cause, nats.ErrPermissionViolation) {
			who, _ := client.MemberFromCreds(g.creds)
			return nil, rejectedErr(fmt.Errorf("the credentials of %q are not an admin's: the cluster refused them the registry (%v); use an admin's .creds (tocsin init wrote KEYS/admin.creds)", who, cause))
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, err // the registry's nodes did not answer: it says so
		}
		return nil, fmt.Errorf("%w; are these an admin's credentials?", err)
	}
	if change {
		if err := s.seedAdmins(ctx); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

func (s *adminSession) close() {
	if s.reg != nil {
		s.reg.Close()
	}
	if s.nc != nil {
		s.nc.Close()
	}
}

// seedAdmins adds the admins of KEYS/admins.yaml the registry lacks.
func (s *adminSession) seedAdmins(ctx context.Context) error {
	path := filepath.Join(s.keys, adminsFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	admins, err := members.LoadSeed(path, members.DefaultVocabulary())
	if err != nil {
		return err
	}
	_, err = s.reg.Seed(ctx, admins)
	return err
}

// connectAs connects with in-memory credentials (a service or system user).
func (s *adminSession) connectAs(name string, creds []byte, inboxPrefix string) (*nats.Conn, error) {
	opt, err := auth.CredsOption(creds)
	if err != nil {
		return nil, err
	}
	opts := []nats.Option{nats.Name(name), opt}
	if inboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(inboxPrefix))
	}
	return s.g.dial(opts...)
}

// serviceJS is a JetStream context on a service connection issued for
// the purpose (members cannot create their own consumers); close nc.
func (s *adminSession) serviceJS() (*nats.Conn, jetstream.JetStream, error) {
	creds, err := s.a.IssueService("tocsin-members")
	if err != nil {
		return nil, nil, err
	}
	nc, err := s.connectAs("tocsin members (service)", creds, "")
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// ensureConsumers creates the consumers of ms with a service connection
// issued for the purpose: members cannot create their own.
func (s *adminSession) ensureConsumers(ctx context.Context, ms []*tocsinv1.Member) error {
	nc, js, err := s.serviceJS()
	if err != nil {
		return err
	}
	defer nc.Close()
	if len(ms) > 1 {
		s.progress("creating the consumers of %d members", len(ms))
	}
	return parallel(ctx, addParallel, len(ms), func(i int) error {
		if ms[i].GetRevokedAt() != nil {
			return nil
		}
		if err := auth.EnsureConsumers(ctx, js, ms[i]); err != nil {
			return err
		}
		return auth.UpdateSiteConsumers(ctx, js, ms[i])
	})
}

// progress tells the admin, on stderr, what a long step is doing.
func (s *adminSession) progress(format string, v ...any) {
	fmt.Fprintf(s.g.stderr, "%s %s\n", time.Now().Format(time.TimeOnly), fmt.Sprintf(format, v...))
}

// push recomputes the account JWTs from the registry (TOCSIN's and every
// member's own) and pushes them to every node, which applies them at once,
// many in flight at a time. It refuses a registry that would leave no
// active admin. It returns the nodes that stored them all.
func (s *adminSession) push(ctx context.Context, changed []*tocsinv1.Member) ([]string, error) {
	all, err := s.reg.List(ctx)
	if err != nil {
		return nil, err
	}
	// Any replica answers the list: one a moment behind lacks the records
	// this command just wrote, and their accounts would not be pushed.
	all = withChanged(all, changed)
	if err := keepsAnAdmin(all, ""); err != nil {
		return nil, err
	}
	var only map[string]bool // nil: every account
	if len(changed) > 0 {
		only = make(map[string]bool, len(changed))
		for _, m := range changed {
			only[m.GetId()] = true
		}
	}
	jwts, err := s.a.AccountJWTsOf(all, only)
	if err != nil {
		return nil, err
	}
	creds, err := s.a.IssueSystemUser(pushUser)
	if err != nil {
		return nil, err
	}
	nc, err := s.connectAs("tocsin members (push)", creds, auth.InboxPrefix(pushUser))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	nodes, err := auth.PushAccounts(ctx, nc, jwts, 0)
	if err != nil {
		return nil, fmt.Errorf("%w; the registry is changed: run `tocsin members sync` to push again", err)
	}
	return nodes, nil
}

// withChanged is all with each of changed in place of the record of the
// same id, or added (sorted by id) when all lacks it.
func withChanged(all, changed []*tocsinv1.Member) []*tocsinv1.Member {
	if len(changed) == 0 {
		return all
	}
	byID := make(map[string]*tocsinv1.Member, len(changed))
	for _, m := range changed {
		byID[m.GetId()] = m
	}
	out := make([]*tocsinv1.Member, 0, len(all)+len(changed))
	for _, m := range all {
		if c, ok := byID[m.GetId()]; ok {
			m = c
			delete(byID, c.GetId())
		}
		out = append(out, m)
	}
	for _, m := range changed {
		if _, ok := byID[m.GetId()]; ok {
			out = append(out, m)
			delete(byID, m.GetId())
		}
	}
	slices.SortFunc(out, func(a, b *tocsinv1.Member) int { return strings.Compare(a.GetId(), b.GetId()) })
	return out
}

// keepsAnAdmin refuses a registry in which, without member id (revoked
// next; "" for none), no active admin would be left to manage it.
func keepsAnAdmin(all []*tocsinv1.Member, id string) error {
	if !slices.ContainsFunc(all, func(m *tocsinv1.Member) bool {
		return m.GetId() != id && m.GetRevokedAt() == nil && members.HasRole(m, tocsinv1.Role_ROLE_ADMIN)
	}) {
		return rejectedErr(errors.New("no active admin would be left to manage the registry: add another admin first"))
	}
	return nil
}

// apply makes a registry change take effect: consumers for changed, then
// the account JWTs on every node. It prints where they went.
func (s *adminSession) apply(ctx context.Context, changed []*tocsinv1.Member) error {
	if err := s.ensureConsumers(ctx, changed); err != nil {
		return fmt.Errorf("%w; the registry is changed: run `tocsin members sync` to finish", err)
	}
	return s.pushAccounts(ctx, changed)
}

// pushAccounts pushes the account JWTs of TOCSIN and of the changed
// members (every member's when changed is empty) to every node and says
// so, with progress lines when many changed.
func (s *adminSession) pushAccounts(ctx context.Context, changed []*tocsinv1.Member) error {
	if len(changed) > 1 {
		s.progress("pushing the account JWTs of %d members to every node", len(changed))
	}
	nodes, err := s.push(ctx, changed)
	if err != nil {
		return err
	}
	if len(changed) > 1 {
		s.progress("done")
	}
	if !s.g.json {
		fmt.Fprintf(s.g.stdout, "account JWTs applied on %d nodes (%s)\n", len(nodes), strings.Join(nodes, ", "))
	}
	return nil
}
