package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/auth"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/web"
)

// devAuth is operator-mode authentication for a dev cluster: the keys in
// <data>/auth, a .creds file per demo member in <data>/creds, and the
// account JWTs that admit them.
type devAuth struct {
	authority    *auth.Authority
	members      []*tocsinv1.Member // the demo cast, with their keys
	server       *auth.ServerAuth
	serviceCreds []byte
	credsDir     string
}

// prepareDevAuth creates (first run) or loads (later runs) the dev
// cluster's keys and the demo members' credentials. Credentials already
// on disk are kept, so a restarted dev cluster admits the same agents.
func prepareDevAuth(dataDir string) (*devAuth, error) {
	a, err := auth.LoadOrInit(filepath.Join(dataDir, "auth"))
	if err != nil {
		return nil, fmt.Errorf("dev keys: %w", err)
	}
	cast, err := members.DemoSeed()
	if err != nil {
		return nil, err
	}
	d := &devAuth{authority: a, members: cast, credsDir: filepath.Join(dataDir, "creds")}
	if err := os.MkdirAll(d.credsDir, 0o700); err != nil {
		return nil, fmt.Errorf("creds dir: %w", err)
	}
	for _, m := range cast {
		if err := d.ensureCreds(m); err != nil {
			return nil, err
		}
	}
	jwts, err := a.AccountJWTs(cast)
	if err != nil {
		return nil, fmt.Errorf("dev account JWTs: %w", err)
	}
	d.server = a.ServerAuth(jwts)
	if d.serviceCreds, err = a.IssueService("tocsin-dev"); err != nil {
		return nil, err
	}
	return d, nil
}

// CredsPath is where member id's credentials are written.
func (d *devAuth) CredsPath(id string) string { return filepath.Join(d.credsDir, id+".creds") }

// ensureCreds issues m's credentials unless its file exists, and sets m's
// signing key to the key of that file.
func (d *devAuth) ensureCreds(m *tocsinv1.Member) error {
	path := d.CredsPath(m.GetId())
	data, err := os.ReadFile(path)
	var pub string
	switch {
	case errors.Is(err, os.ErrNotExist):
		creds, p, err := d.authority.IssueMember(m)
		if err != nil {
			return fmt.Errorf("credentials of %s: %w", m.GetId(), err)
		}
		if err := os.WriteFile(path, creds, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		pub = p
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	default:
		kp, err := jwt.ParseDecoratedNKey(data)
		if err != nil {
			return fmt.Errorf("%s: %w; delete it to have it issued again", path, err)
		}
		if pub, err = kp.PublicKey(); err != nil {
			return err
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	m.Keys = []*tocsinv1.SigningKey{{PublicKey: pub, NotBefore: timestamppb.New(info.ModTime().Add(-time.Minute))}}
	return nil
}

// serviceOption is the credentials option of the services' connections.
func (d *devAuth) serviceOption() (nats.Option, error) {
	return auth.CredsOption(d.serviceCreds)
}

// admit seeds the registry with the cast and makes sure each member's
// consumers exist, so that agents can start reading at once. After a
// restart the consumers exist but may still be electing leaders: what
// does not answer within a few seconds is retried in the background until
// run ends, and readiness does not wait for it.
func (d *devAuth) admit(ctx, run context.Context, reg *members.Registry, s *Server) error {
	if _, err := reg.Seed(ctx, d.members); err != nil {
		return fmt.Errorf("seed demo members: %w", err)
	}
	if err := d.pushRegistry(ctx, reg, s); err != nil {
		return err
	}
	var pending []*tocsinv1.Member
	for _, m := range d.members {
		if err := d.ensureConsumers(ctx, s, m); err != nil {
			pending = append(pending, m)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	s.log.Info("some members' consumers are not answering yet; retrying in the background", zap.Int("members", len(pending)))
	go func() {
		for wait := time.Second; len(pending) > 0; wait = min(2*wait, 30*time.Second) {
			select {
			case <-run.Done():
				return
			case <-time.After(wait):
			}
			var still []*tocsinv1.Member
			for _, m := range pending {
				if err := d.ensureConsumers(run, s, m); err != nil {
					s.log.Debug("consumers not ready", zap.String("member", m.GetId()), zap.Error(err))
					still = append(still, m)
				}
			}
			pending = still
		}
		s.log.Info("every demo member's consumers are ready")
	}()
	return nil
}

func (d *devAuth) ensureConsumers(ctx context.Context, s *Server, m *tocsinv1.Member) error {
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return auth.EnsureConsumers(actx, s.js, m)
}

// pushRegistry makes the account JWTs follow the whole registry again: the
// nodes started with JWTs for the demo cast alone, which would cut off
// members added (or keep members revoked) with `tocsin members` before a
// restart.
func (d *devAuth) pushRegistry(ctx context.Context, reg *members.Registry, s *Server) error {
	all, err := reg.List(ctx)
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	var admitted []*tocsinv1.Member
	for _, m := range all {
		if !members.HasRole(m, tocsinv1.Role_ROLE_SERVICE) {
			admitted = append(admitted, m)
		}
	}
	jwts, err := d.authority.AccountJWTs(admitted)
	if err != nil {
		return fmt.Errorf("account JWTs of the registry: %w", err)
	}
	const pusher = "tocsin-dev-push"
	creds, err := d.authority.IssueSystemUser(pusher)
	if err != nil {
		return err
	}
	opt, err := auth.CredsOption(creds)
	if err != nil {
		return err
	}
	nc, err := serviceConn(s.localNodes()[0], pusher, s.log, opt, nats.CustomInboxPrefix(auth.InboxPrefix(pusher)))
	if err != nil {
		return fmt.Errorf("system connection: %w", err)
	}
	defer nc.Close()
	if _, err := auth.PushAccounts(ctx, nc, jwts, 0); err != nil {
		return fmt.Errorf("push account JWTs: %w", err)
	}
	return nil
}

// consoleTokens issues every demo member a console and TAXII access token,
// once, in <creds>/<member>.token (0600).
func (d *devAuth) consoleTokens(ctx context.Context, face *web.Web) error {
	for _, m := range d.members {
		path := filepath.Join(d.credsDir, m.GetId()+".token")
		if _, err := os.Stat(path); err == nil {
			continue
		}
		tok, err := face.Tokens().Issue(ctx, m.GetId(), "tocsin dev", 0)
		if err != nil {
			return fmt.Errorf("console token for %s: %w", m.GetId(), err)
		}
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}
