package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// A member site (`tocsin site`, docs/SITES.md) is a nats-server of the
// member's own that dials the hub as a leaf node into the member's account,
// with a site credential: a user signed by the member's second scoped key,
// whose template allows the LEAFNODE and LEAFNODE_WS connection types only and, across the
// link, only what the site needs:
//
//   - in: a consumer reset (how durable sourcing starts or resumes) of the
//     member's site consumers (SiteConsumers), their flow-control replies
//     (the acks of AckFlowControl) and their deliveries on
//     tocsin.site.<member>.<stream>, plus the replies of those requests;
//     the member's directory and board requests, relayed (SiteRelays);
//   - out: publishing the member's own messages on
//     tocsin.site.<member>.ingest.<kind>, which the member's account imports
//     as tocsin.ingest.<kind>.<member> (the site's forwarding path), and
//     the PubAcks coming back to the site's own inbox prefix.
//
// The member's own credentials stay STANDARD only: a leaf link cannot be
// opened with them, and a site credential cannot open a client connection.

// siteConnectionTypes are the only ways a site credential may connect: a
// leaf link over TCP or over WebSocket (broker.LeafWebsocketOptions).
var siteConnectionTypes = []string{jwt.ConnectionTypeLeafnode, jwt.ConnectionTypeLeafnodeWS}

// siteKeyDerivation labels the derivation of a member's site scoped key.
const siteKeyDerivation = "tocsin member site scoped signing key v1\x00"

// SiteDeliverPrefix starts the subjects the hub delivers a member's site
// consumers on: tocsin.site.<member>.<stream>.
const SiteDeliverPrefix = subjects.Prefix + ".site."

// siteKinds are the kinds a site forwards for its member.
var siteKinds = []string{subjects.KindAlert, subjects.KindReceipt, subjects.KindSighting, subjects.KindAid, subjects.KindStatus}

// SiteUser is the user name of member's site credentials.
func SiteUser(member string) string { return member + "-site" }

// SiteInboxPrefix is the inbox prefix of a site's own connections (its
// forwarder): PubAcks of forwarded messages come back on it.
func SiteInboxPrefix(member string) string { return "_SITE_" + member }

// SiteForward is the subject a site publishes member's message of kind on
// at the hub; the member's account imports it as its ingest subject.
func SiteForward(member, kind string) string {
	return SiteDeliverPrefix + member + ".ingest." + kind
}

// SiteConsumer is one hub-side durable push consumer a member's site
// sources from (ADR-60 durable sourcing): Tocsin creates it, the site may
// only reset it and acknowledge through flow control.
type SiteConsumer struct {
	// Stream is the hub stream (SECTORS, INBOX or REJECTIONS; for a member
	// homed in a region, that region's: SECTORS-<home> ...). The site's
	// own copy of it has the same name.
	Stream string
	// Name is its durable name, "<member>-site-<stream>" (SiteConsumerName).
	Name string
	// Filters are the subjects it delivers: the member's sectors, its inbox
	// or its rejections (for a member homed in a region, every region's:
	// "tocsin.r.*.sector.<sector>.>").
	Filters []string
	// Deliver is its deliver subject, tocsin.site.<member>.<stream>.
	Deliver string
}

// SiteConsumerName is the durable name of member's site consumer on the
// copies stream plain (SECTORS, INBOX or REJECTIONS), in whatever region
// that stream is: "<member>-site-sectors".
func SiteConsumerName(member, plain string) string {
	return member + "-site-" + strings.ToLower(plain)
}

// SiteConsumers lists the consumers m's site sources from: its sectors'
// routed copies (one consumer for all its sectors; none without sectors),
// its inbox and its rejections, on the streams its own consumers read
// (Consumers: its home region's for a member homed in one). Only readers
// have sites.
func SiteConsumers(m *tocsinv1.Member) []SiteConsumer {
	if !hasAny(m, readers) {
		return nil
	}
	id := m.GetId()
	stream, filter := homeCopies(m)
	mk := func(plain string, filters ...string) SiteConsumer {
		for i, f := range filters {
			filters[i] = filter(f)
		}
		return SiteConsumer{Stream: stream(plain), Name: SiteConsumerName(id, plain), Filters: filters, Deliver: SiteDeliverPrefix + id + "." + strings.ToLower(plain)}
	}
	var out []SiteConsumer
	if len(m.GetSectors()) > 0 {
		var f []string
		for _, s := range m.GetSectors() {
			f = append(f, subjects.SectorAll(s))
		}
		out = append(out, mk(subjects.StreamSectors, f...))
	}
	return append(out, mk(subjects.StreamInbox, subjects.Inbox(id)), mk(subjects.StreamRejections, subjects.Rejection(id)))
}

// SiteHeartbeat is the idle heartbeat of a site consumer: how soon a
// source notices a silent link (nats-server's own sources use 5 s).
const SiteHeartbeat = 5 * time.Second

// SiteConsumerConfig is the configuration of site consumer c: durable,
// push to c.Deliver, AckFlowControl (what durable sourcing requires),
// delivering everything from the start of the stream, replicated as the
// stream is (a site's position must survive a node).
func SiteConsumerConfig(member string, c SiteConsumer) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:        c.Name,
		Description:    "sources " + strings.Join(c.Filters, " ") + " to the site of " + member,
		DeliverSubject: c.Deliver,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckFlowControlPolicy,
		IdleHeartbeat:  SiteHeartbeat,
		FlowControl:    true,
	}
	if len(c.Filters) == 1 {
		cfg.FilterSubject = c.Filters[0]
	} else {
		cfg.FilterSubjects = c.Filters
	}
	return cfg
}

// EnsureSiteConsumers creates or updates m's site consumers (a member's
// sectors may have changed; the position is kept). Tocsin calls it with a
// service connection when it issues a site credential (IssueSite).
func EnsureSiteConsumers(ctx context.Context, js jetstream.JetStream, m *tocsinv1.Member) error {
	if err := CheckMember(m); err != nil {
		return err
	}
	for _, c := range SiteConsumers(m) {
		cfg := SiteConsumerConfig(m.GetId(), c)
		_, err := js.CreatePushConsumer(ctx, c.Stream, cfg)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			_, err = js.CreateOrUpdatePushConsumer(ctx, c.Stream, cfg)
		}
		if err != nil {
			return fmt.Errorf("site consumer %s on %s for member %q: %w", c.Name, c.Stream, m.GetId(), err)
		}
	}
	return nil
}

// UpdateSiteConsumers brings m's site consumers up to date (its sectors
// changed) if m has a site, that is if its inbox site consumer exists; it
// creates none for a member without a site. Tocsin calls it wherever it
// calls EnsureConsumers.
func UpdateSiteConsumers(ctx context.Context, js jetstream.JetStream, m *tocsinv1.Member) error {
	if ok, err := hasSite(ctx, js, m); err != nil || !ok {
		return err
	}
	return EnsureSiteConsumers(ctx, js, m)
}

// hasSite reports whether m's inbox site consumer exists (on the streams
// m's record names).
func hasSite(ctx context.Context, js jetstream.JetStream, m *tocsinv1.Member) (bool, error) {
	cs := SiteConsumers(m)
	if len(cs) == 0 {
		return false, nil
	}
	inbox := cs[len(cs)-2] // SiteConsumers ends with inbox, rejections
	_, err := js.PushConsumer(ctx, inbox.Stream, inbox.Name)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("site consumer %s of member %q: %w", inbox.Name, m.GetId(), err)
	}
	return true, nil
}

// MoveSiteConsumers moves m's site consumers with its home region
// (`tocsin members set-home`): when before, m's record as it was, had a
// site (its inbox site consumer exists in before's home region), it
// creates after's site consumers in after's home region, from the start
// of their streams, and deletes before's. A member without a site, or
// whose site consumers stay on the same streams, is left alone. The site
// follows once it runs with site credentials issued for after (their tag
// names the region, IssueSite): its streams of the new region start
// empty and take every copy the new region's streams hold.
func MoveSiteConsumers(ctx context.Context, js jetstream.JetStream, before, after *tocsinv1.Member) error {
	old, cur := SiteConsumers(before), SiteConsumers(after)
	keep := map[string]bool{}
	for _, c := range cur {
		keep[c.Stream+"."+c.Name] = true
	}
	if !slices.ContainsFunc(old, func(c SiteConsumer) bool { return !keep[c.Stream+"."+c.Name] }) {
		return nil
	}
	if ok, err := hasSite(ctx, js, before); err != nil || !ok {
		return err
	}
	if err := EnsureSiteConsumers(ctx, js, after); err != nil {
		return err
	}
	for _, c := range old {
		if keep[c.Stream+"."+c.Name] {
			continue
		}
		if err := js.DeleteConsumer(ctx, c.Stream, c.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("member %q's site consumers moved, but %s on %s of the region it left was not deleted: %w; delete it with a service's credentials", after.GetId(), c.Name, c.Stream, err)
		}
	}
	return nil
}

// addSiteOwners adds the site consumers of members to owners (stream and
// name to member ids): member "a"'s site consumer a-site-sectors and the
// consumer of member "a-site"'s sector "sectors" would be one.
func addSiteOwners(owners map[string][]string, members []*tocsinv1.Member) {
	for _, m := range members {
		for _, c := range SiteConsumers(m) {
			key := c.Stream + "." + c.Name
			if !slices.Contains(owners[key], m.GetId()) {
				owners[key] = append(owners[key], m.GetId())
			}
		}
	}
}

// SitePermissions are the allow lists of m's site credentials, from the
// site's side of the link (see the package comment above SiteUser). The
// domain token of the JetStream API is a wildcard: the member's account
// maps only the hub's own domain onto its imports.
func SitePermissions(m *tocsinv1.Member) (jwt.Permissions, error) {
	var p jwt.Permissions
	if err := CheckMember(m); err != nil {
		return p, err
	}
	for _, c := range SiteConsumers(m) {
		p.Pub.Allow.Add("$JS.*.API.CONSUMER.RESET."+c.Stream+"."+c.Name, jsFC+c.Stream+"."+c.Name+".*")
	}
	for _, k := range siteKinds {
		p.Pub.Allow.Add(SiteForward(m.GetId(), k))
	}
	for _, r := range SiteRelays(m.GetId()) {
		p.Pub.Allow.Add(r.Forward)
	}
	for _, c := range SiteConsumers(m) {
		p.Sub.Allow.Add(c.Deliver)
	}
	p.Sub.Allow.Add(jsReply+">", SiteInboxPrefix(m.GetId())+".>")
	return p, nil
}

// SiteRelay is a member service request a site relays to the hub (and
// answers from its cache while the hub is unreachable): what the member's
// agent and CLI ask on Local, the site asks on Forward, which the
// member's account imports as Local's service.
type SiteRelay struct {
	// Local is the service subject at the site and at the hub.
	Local string
	// Forward is the subject the site publishes the request on.
	Forward string
}

// SiteRelays are the requests a site relays for member: the public
// directory (the agent verifies senders with it) and the member's
// regional board.
func SiteRelays(member string) []SiteRelay {
	fwd := func(name string) string { return SiteDeliverPrefix + member + ".svc." + name }
	return []SiteRelay{
		{subjects.SvcDirectory, fwd("directory")},
		{subjects.SvcSituation(member), fwd("situation")},
	}
}

// siteImports are what m's account imports from TOCSIN for its site: the
// consumer resets and flow-control replies of its site consumers, its
// ingest subjects under their forwarding names, and its site deliveries.
func siteImports(ac *jwt.AccountClaims, tocsin string, m *tocsinv1.Member) {
	if !hasAny(m, readers) {
		return
	}
	for _, c := range SiteConsumers(m) {
		for _, s := range []string{jsConsReset + c.Stream + "." + c.Name, jsFC + c.Stream + "." + c.Name + ".*"} {
			ac.Imports.Add(&jwt.Import{Name: s, Subject: jwt.Subject(s), Account: tocsin, Type: jwt.Service})
		}
	}
	for _, k := range siteKinds {
		s := subjects.Ingest(k, m.GetId())
		home, err := homeIngest(m, s)
		if err != nil {
			home = jwt.Subject(s) // addImports refused m already
		}
		ac.Imports.Add(&jwt.Import{Name: "site " + s, Subject: home, LocalSubject: jwt.RenamingSubject(SiteForward(m.GetId(), k)), Account: tocsin, Type: jwt.Service})
	}
	for _, r := range SiteRelays(m.GetId()) {
		ac.Imports.Add(&jwt.Import{Name: "site " + r.Local, Subject: jwt.Subject(r.Local), LocalSubject: jwt.RenamingSubject(r.Forward), Account: tocsin, Type: jwt.Service})
	}
	for _, c := range SiteConsumers(m) {
		ac.Imports.Add(&jwt.Import{Name: c.Deliver, Subject: jwt.Subject(c.Deliver), Account: tocsin, Type: jwt.Stream})
	}
}

// siteExports are TOCSIN's exports for sites: consumer resets and
// flow-control replies on the member streams (any stream name, as for the
// members' consumers: SECTORS or a region's SECTORS-east; each member's
// account imports only its own site consumers' literal subjects), and the
// site deliveries.
func siteExports(ac *jwt.AccountClaims) {
	for _, s := range []string{jsConsReset + "*.*", jsFC + "*.*.*"} {
		ac.Exports.Add(&jwt.Export{Name: s, Subject: jwt.Subject(s), Type: jwt.Service, ResponseType: jwt.ResponseTypeSingleton})
	}
	ac.Exports.Add(&jwt.Export{Name: SiteDeliverPrefix + ">", Subject: jwt.Subject(SiteDeliverPrefix + ">"), Type: jwt.Stream})
}

// siteScope is m's site scoped signing key: SitePermissions as template,
// leaf connections only (TCP or WebSocket). Nil for a member without a site (no reader).
func (a *Authority) siteScope(m *tocsinv1.Member) (*jwt.UserScope, error) {
	if !hasAny(m, readers) || inTocsin(m) {
		return nil, nil
	}
	perms, err := SitePermissions(m)
	if err != nil {
		return nil, err
	}
	signer, err := a.siteSigner(m.GetId())
	if err != nil {
		return nil, err
	}
	scope := jwt.NewUserScope()
	scope.Key = mustPublic(signer)
	scope.Role = SiteUser(m.GetId())
	scope.Template.Permissions = perms
	scope.Template.AllowedConnectionTypes.Add(siteConnectionTypes...)
	return scope, nil
}

// siteSigner derives member's site scoped signing key (as memberSigner).
func (a *Authority) siteSigner(member string) (nkeys.KeyPair, error) {
	return a.derive(siteKeyDerivation + member)
}

// IssueSite returns .creds for m's site: a new user key, named
// SiteUser(m), signed by m's site scoped key, so that it carries no
// permissions of its own (the scope's apply, and follow the registry). It
// refuses a revoked member and a member that reads nothing (admins,
// services). Create the hub side with EnsureSiteConsumers.
func (a *Authority) IssueSite(m *tocsinv1.Member) ([]byte, error) {
	if err := CheckMember(m); err != nil {
		return nil, err
	}
	if m.GetRevokedAt() != nil {
		return nil, fmt.Errorf("%w: %q was revoked at %s; a revoked member gets no site credentials", ErrRevoked, m.GetId(), m.GetRevokedAt().AsTime())
	}
	if !hasAny(m, readers) || inTocsin(m) {
		return nil, fmt.Errorf("%w: member %q has no member, responder or liaison role; only they have sites", ErrInvalidMember, m.GetId())
	}
	_, home, err := a.home(m)
	if err != nil {
		return nil, err
	}
	signer, err := a.siteSigner(m.GetId())
	if err != nil {
		return nil, err
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("%w: generate user key: %v", ErrKeyMaterial, err)
	}
	uc, err := newUser(user, SiteUser(m.GetId()), home)
	if err != nil {
		return nil, err
	}
	uc.UserPermissionLimits = jwt.UserPermissionLimits{}
	// The site reads its member's sectors from its own credentials, to
	// give the member's agent the consumers it has at the hub.
	for _, s := range m.GetSectors() {
		uc.Tags.Add(SiteSectorTag + s)
	}
	// And its home region, whose streams the site's consumers are on.
	if h := m.GetHomeRegion(); h != "" {
		uc.Tags.Add(SiteHomeRegionTag + h)
	}
	return encodeCreds(uc, signer, user)
}

// SiteSectorTag starts the tags of a site credential that name its
// member's sectors ("sector:patient-care"), read by the site.
const SiteSectorTag = "sector:"

// SiteHomeRegionTag starts the tag of a site credential that names its
// member's home region ("home-region:east"), read by the site: its
// streams are named for it as the hub's are (SECTORS-east).
const SiteHomeRegionTag = "home-region:"
