package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/codes"
	"github.com/tocsin-project/tocsin/csaf"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/stix"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
	"google.golang.org/protobuf/proto"
)

// Reason codes of quarantined messages that are not rejection codes (those
// are spelled as codes.Name spells them: "bad-signature", "unknown-sender").
const (
	// ReasonTLP: the effective TLP does not allow this copy: RED or
	// AMBER+STRICT on a sector subject.
	ReasonTLP = "tlp-not-allowed"
	// ReasonNotAddressed: the copy reached this member although the message
	// does not address it (a sector or a recipient it did not name).
	ReasonNotAddressed = "not-addressed"
	// ReasonWrongSector: a sector copy of a sector this member is not in.
	ReasonWrongSector = "wrong-sector"
	// ReasonWrongLane: the copy's lane is not the message's.
	ReasonWrongLane = "wrong-lane"
	// ReasonUnexpectedKind: a kind of message that never travels on this
	// subject.
	ReasonUnexpectedKind = "unexpected-kind"
)

// refusal is a definitive reason to quarantine a message.
type refusal struct {
	code string
	msg  string
}

func (r *refusal) Error() string { return r.code + ": " + r.msg }

func refuse(code, format string, v ...any) *refusal {
	return &refusal{code: code, msg: fmt.Sprintf(format, v...)}
}

// refusalOf turns a coded error (envelope, tlp) into a refusal.
func refusalOf(err error) *refusal {
	return &refusal{code: codes.Name(codes.Of(err)), msg: err.Error()}
}

// destination is where a routed copy was delivered.
type destination struct {
	sector, lane string // a sector copy
	inbox        string // a direct copy
}

func parseDestination(subject string) (destination, bool) {
	_, subject = subjects.OutOfRegion(subject) // any region's copy (docs/REGIONS.md)
	t := strings.Split(subject, ".")
	switch {
	case len(t) == 4 && t[0] == subjects.Prefix && t[1] == "sector":
		return destination{sector: t[2], lane: t[3]}, true
	case len(t) == 3 && t[0] == subjects.Prefix && t[1] == "inbox":
		return destination{inbox: t[2]}, true
	}
	return destination{}, false
}

// checker verifies what reaches a member before any sink sees it.
type checker struct {
	me       string
	sectors  *sectorSet // every sector the member is in
	dir      *directory
	verifier *envelope.Verifier
	inv      *inventory // nil: CSAF advisories are not matched
	log      *zap.Logger
}

// check verifies one routed copy and returns its record. hdr are the
// copy's headers: hints the record takes only what the signed payload does
// not say (the TLP, urgency and exercise mark of the request an aid offer
// concerns). A *refusal is definitive (quarantine it); any other error is
// transient (retry later).
func (c *checker) check(ctx context.Context, subject string, hdr nats.Header, seq uint64, data []byte) (*Record, error) {
	dest, ok := parseDestination(subject)
	if !ok {
		return nil, refuse(ReasonUnexpectedKind, "a message on %q, which is neither a sector nor an inbox subject", subject)
	}
	// Bytes that are no envelope are refused whatever the subject; only
	// then may a sector the member seems not to have wait for the
	// directory.
	env, err := envelope.Decode(data, 0)
	if err != nil {
		return nil, refusalOf(err)
	}
	payload, err := envelope.PayloadFor(env.GetKind())
	if err != nil {
		return nil, refusalOf(err)
	}
	if err := c.knowSector(ctx, dest.sector); err != nil {
		return nil, err
	}
	sender, err := c.open(ctx, env, payload)
	if err != nil {
		return nil, err
	}
	rec := newRecord(env, sender, subject, seq)
	switch p := payload.(type) {
	case *tocsinv1.Alert:
		err = c.checkAlert(dest, sender, p, rec)
	case *tocsinv1.Advisory:
		err = c.checkAdvisory(dest, sender, p, rec)
	case *tocsinv1.SightingSummary:
		err = c.checkSummary(dest, sender, p, rec, hdr)
	case *tocsinv1.AidRequest, *tocsinv1.AidOffer, *tocsinv1.AidDecision:
		if dest.inbox != c.me {
			return nil, refuse(ReasonUnexpectedKind, "a %s message on %s; aid messages come only to the addressee's inbox", rec.Kind, subject)
		}
		rec.fillAid(p, hdr)
	case *tocsinv1.Receipt:
		return nil, c.checkEcho(dest, sender, p)
	default:
		return nil, refuse(ReasonUnexpectedKind, "a %s message on %s, where none is ever routed", rec.Kind, subject)
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// open verifies env and decodes its payload. A sender or key the directory
// copy does not know, or a key not valid at the message's time, may be a
// change made since the copy was fetched: the copy is refreshed (at most
// once per minRefresh) and the message checked again. When the directory
// cannot be fetched the failure is transient: the message is retried, not
// quarantined.
func (c *checker) open(ctx context.Context, env *tocsinv1.Envelope, payload proto.Message) (*tocsinv1.Member, error) {
	for attempt := 0; ; attempt++ {
		sender, err := c.verifier.Open(ctx, env, payload)
		if err == nil {
			return sender, nil
		}
		code := codes.Of(err)
		if code == tocsinv1.RejectionCode_REJECTION_CODE_UNSPECIFIED {
			return nil, err
		}
		stale := code == tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_SENDER || code == tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_KEY ||
			code == tocsinv1.RejectionCode_REJECTION_CODE_KEY_NOT_VALID
		if !stale || attempt > 0 {
			return nil, refusalOf(err)
		}
		refreshed, fresh, ferr := c.dir.refreshIfOld(ctx)
		if !fresh {
			return nil, fmt.Errorf("verify %s: %v, and the member directory cannot be refreshed: %w", env.GetId(), err, ferr)
		}
		if !refreshed {
			return nil, refusalOf(err)
		}
	}
}

// effective returns the effective TLP of a message: the most restrictive
// of its own level and of every TLP marking in its STIX bundle. A bundle
// whose markings cannot be resolved is refused: the TLP is never guessed.
func (c *checker) effective(own tocsinv1.TLP, bundle []byte) (tlp.Level, error) {
	level, err := tlp.FromProto(own)
	if err != nil {
		return 0, refuse(codes.Name(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP), "%v", err)
	}
	if len(bundle) == 0 {
		return level, nil
	}
	res, err := stix.Markings(bundle, stix.Options{})
	if err != nil {
		return 0, refuse(stix.CodeInvalidBundle, "%v", err)
	}
	for _, p := range res.Problems {
		switch p.Code {
		case stix.CodeInvalidBundle, stix.CodeOversized, stix.CodeUnknownMarking:
			return 0, refuse(p.Code, "the STIX bundle's TLP cannot be determined: %s", p.Message)
		}
	}
	return tlp.Max(level, res.TLP), nil
}

// sectorCopy checks a copy delivered on a sector subject: a sector of this
// member, the message's own lane, a TLP that may go to a sector, and a
// sector the sender addressed (every sector for CLEAR and GREEN without
// any). An amendment goes wherever the alert it amends went, so its own
// sectors are not checked.
func (c *checker) sectorCopy(d destination, level tlp.Level, lane string, addressed []string, amendment bool) error {
	switch {
	case !c.sectors.has(d.sector):
		return refuse(ReasonWrongSector, "a copy for sector %s, which %s is not in", d.sector, c.me)
	case d.lane != lane:
		return refuse(ReasonWrongLane, "a %s message on the %s lane", lane, d.lane)
	case !level.AllowsSectorSubjects():
		return refuse(ReasonTLP, "a %s message on sector subject %s; %s goes only to named recipients", level.Label(), d.sector, level.Label())
	case amendment, len(addressed) == 0 && level <= tlp.Green, slices.Contains(addressed, d.sector):
		return nil
	}
	return refuse(ReasonNotAddressed, "a copy for sector %s, but the message addresses %s", d.sector, strings.Join(addressed, ", "))
}

func (c *checker) checkAlert(d destination, sender *tocsinv1.Member, a *tocsinv1.Alert, rec *Record) error {
	if !members.HasRole(sender, tocsinv1.Role_ROLE_MEMBER) && !members.HasRole(sender, tocsinv1.Role_ROLE_RESPONDER) &&
		!members.HasRole(sender, tocsinv1.Role_ROLE_LIAISON) {
		return refuse(codes.Name(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED), "%s has no role that may publish alerts", sender.GetId())
	}
	level, err := c.effective(a.GetTlp(), a.GetStixBundle())
	if err != nil {
		return err
	}
	rec.fillAlert(a)
	rec.TLP = level.String()
	amendment := a.GetAmends() != ""
	if d.inbox != "" {
		if d.inbox != c.me || (!amendment && !slices.Contains(a.GetRecipients(), c.me)) {
			return refuse(ReasonNotAddressed, "a direct copy in %s's inbox of an alert that does not name %s as a recipient", d.inbox, c.me)
		}
		return nil
	}
	return c.sectorCopy(d, level, records.LaneName(a.GetLane()), a.GetSectors(), amendment)
}

func (c *checker) checkAdvisory(d destination, sender *tocsinv1.Member, a *tocsinv1.Advisory, rec *Record) error {
	doc := a.GetCsafDocument()
	if err := advisoryPermitted(sender, doc); err != nil {
		return err
	}
	if d.inbox != "" {
		return refuse(ReasonNotAddressed, "an advisory in an inbox; advisories go to sectors")
	}
	level, err := c.effective(a.GetTlp(), a.GetStixBundle())
	if err != nil {
		return err
	}
	if len(doc) > 0 {
		// The document's own TLP counts, as the router counted it.
		h, _ := csaf.ReadHeader(doc)
		own, has, err := h.Level()
		if err != nil {
			return refuse(codes.Name(tocsinv1.RejectionCode_REJECTION_CODE_UNKNOWN_TLP), "the CSAF document's TLP: %v", err)
		}
		if has {
			level = tlp.Max(level, own)
		}
	}
	rec.fillAdvisory(a)
	rec.TLP = level.String()
	if err := c.sectorCopy(d, level, records.LaneName(a.GetLane()), a.GetSectors(), false); err != nil {
		return err
	}
	if doc := a.GetCsafDocument(); c.inv != nil && len(doc) > 0 {
		fs, err := c.inv.match(doc)
		if err != nil {
			// The router validated the document; one this agent cannot read
			// is still written, without affected, and said here.
			c.log.Warn("a CSAF advisory could not be matched against the inventory", zap.String("id", rec.ID), zap.Error(err))
			return nil
		}
		rec.setAffected(fs)
	}
	return nil
}

// advisoryPermitted says whether sender may publish an advisory: the
// liaison any, a vendor only one carrying a CSAF document, and then (when
// the directory says which) under its own registered publisher namespace.
func advisoryPermitted(sender *tocsinv1.Member, doc []byte) error {
	notPermitted := codes.Name(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED)
	switch {
	case members.HasRole(sender, tocsinv1.Role_ROLE_LIAISON):
		return nil
	case !members.HasRole(sender, tocsinv1.Role_ROLE_VENDOR):
		return refuse(notPermitted, "only the liaison publishes advisories, and vendors CSAF advisories; %s is neither", sender.GetId())
	case len(doc) == 0:
		return refuse(notPermitted, "%s is a vendor: it publishes CSAF advisories only, and this advisory carries no CSAF document", sender.GetId())
	}
	want := sender.GetPublisherNamespace()
	if want == "" {
		return nil // the directory does not say: the router checked it
	}
	var d struct {
		Document struct {
			Publisher struct {
				Namespace string `json:"namespace"`
			} `json:"publisher"`
		} `json:"document"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || d.Document.Publisher.Namespace != want {
		return refuse(notPermitted, "vendor %s publishes under %q; this CSAF document's publisher namespace is %q", sender.GetId(), want, d.Document.Publisher.Namespace)
	}
	return nil
}

func (c *checker) checkSummary(d destination, sender *tocsinv1.Member, s *tocsinv1.SightingSummary, rec *Record, hdr nats.Header) error {
	if !members.HasRole(sender, tocsinv1.Role_ROLE_SERVICE) {
		return refuse(codes.Name(tocsinv1.RejectionCode_REJECTION_CODE_NOT_PERMITTED), "sighting summaries come from Tocsin's services; %s is not one", sender.GetId())
	}
	rec.fillSummary(s, d.lane, hdr)
	switch {
	case d.inbox != "" && d.inbox != c.me:
		return refuse(ReasonNotAddressed, "a summary in %s's inbox", d.inbox)
	case d.inbox == "" && (!c.sectors.has(d.sector) || s.GetSector() != d.sector):
		return refuse(ReasonWrongSector, "a summary for sector %q on sector subject %s", s.GetSector(), d.sector)
	}
	return nil
}
