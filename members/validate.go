package members

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nkeys"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// Validate checks a member record against the rules below and vocab (its
// empty lists meaning the defaults). It reports every problem, one per line
// (errors.Join), each naming the member and the field; the error matches
// ErrInvalid.
//
//   - id: a token (lowercase letters, digits, dashes; starts with a letter;
//     1..63 characters).
//   - name: required.
//   - roles: at least one, each known, none twice.
//   - sectors: known, none twice; at least one unless every role is admin
//     or service.
//   - region: a token; required unless every role is admin or service.
//   - keys: NKey user public keys ("U..."); not_after after not_before; at
//     most one open-ended (current) key.
//   - publisher_namespace: required of a vendor and only a vendor may have
//     one: an absolute https URI with a host, as the CSAF document's
//     document.publisher.namespace it must equal ("https://zyx.example").
//   - capabilities: only on responders; a unique id made of tokens joined by
//     "/"; a known type; capacity at least 1; regions tokens; lead time not
//     negative.
func Validate(m *tocsinv1.Member, vocab Vocabulary) error {
	return errors.Join(validate(m, vocab)...)
}

// validate returns every problem of m, each naming the member and field.
func validate(m *tocsinv1.Member, vocab Vocabulary) []error {
	if m == nil {
		return []error{quiet(ErrInvalid, "member: the record is missing (nil)")}
	}
	v := &validator{who: who(m), vocab: vocab.WithDefaults()}
	if !isToken(m.Id) {
		v.addf("id", "%q is not a member id: use %s", m.Id, tokenRule)
	}
	if strings.TrimSpace(m.Name) == "" {
		v.addf("name", "required: give the organisation's display name")
	}
	v.roles(m.Roles)
	staffOnly := len(m.Roles) > 0 && !slices.ContainsFunc(m.Roles, func(r tocsinv1.Role) bool {
		return r != tocsinv1.Role_ROLE_ADMIN && r != tocsinv1.Role_ROLE_SERVICE
	})
	v.sectors(m.Sectors, staffOnly)
	switch {
	case m.Region == "" && !staffOnly:
		v.addf("region", "required: a lowercase token such as \"northeast\" (only admin and service members may have none)")
	case m.Region != "" && !isToken(m.Region):
		v.addf("region", "%q is not a region: use %s", m.Region, tokenRule)
	}
	v.keys(m.Keys)
	v.publisherNamespace(m)
	v.capabilities(m)
	if err := m.GetCreatedAt().CheckValid(); m.CreatedAt != nil && err != nil {
		v.addf("created_at", "not a valid time: %v", err)
	}
	if err := m.GetRevokedAt().CheckValid(); m.RevokedAt != nil && err != nil {
		v.addf("revoked_at", "not a valid time: %v", err)
	}
	return v.errs
}

// who names m in error messages: by id, or by name when the id is missing.
func who(m *tocsinv1.Member) string {
	switch {
	case m.Id != "":
		return fmt.Sprintf("member %q", m.Id)
	case m.Name != "":
		return fmt.Sprintf("member with no id (name %q)", m.Name)
	default:
		return "member with no id"
	}
}

// validator collects the problems of one record.
type validator struct {
	who   string
	vocab Vocabulary
	errs  []error
}

// addf records a problem with field, formatted as by fmt.Errorf.
func (v *validator) addf(field, format string, args ...any) {
	v.errs = append(v.errs, quiet(ErrInvalid, "%s: %s: %w", v.who, field, fmt.Errorf(format, args...)))
}

// roles checks the roles list.
func (v *validator) roles(roles []tocsinv1.Role) {
	if len(roles) == 0 {
		v.addf("roles", "at least one required; known: %s", strings.Join(RoleNames(), ", "))
	}
	for i, r := range roles {
		field := fmt.Sprintf("roles[%d]", i)
		switch {
		case !knownRole(r):
			v.addf(field, "unknown role %s; known: %s", r, strings.Join(RoleNames(), ", "))
		case slices.Contains(roles[:i], r):
			v.addf(field, "role %s is listed twice; list each once", RoleName(r))
		}
	}
}

// sectors checks the sectors list; staffOnly members may have none.
func (v *validator) sectors(sectors []string, staffOnly bool) {
	if len(sectors) == 0 && !staffOnly {
		v.addf("sectors", "at least one required (only admin and service members may have none); known: %s", strings.Join(v.vocab.Sectors, ", "))
	}
	for i, s := range sectors {
		field := fmt.Sprintf("sectors[%d]", i)
		if err := v.vocab.CheckSector(s); err != nil {
			v.addf(field, "%w", err)
		} else if slices.Contains(sectors[:i], s) {
			v.addf(field, "sector %q is listed twice; list each once", s)
		}
	}
}

// keys checks the signing keys and their validity intervals.
func (v *validator) keys(keys []*tocsinv1.SigningKey) {
	var open []string
	for i, k := range keys {
		field := fmt.Sprintf("keys[%d]", i)
		if k == nil {
			v.addf(field, "empty entry; remove it")
			continue
		}
		if !nkeys.IsValidPublicUserKey(k.PublicKey) {
			v.addf(field+".public_key", "%q is not an NKey user public key (\"U\" followed by 55 characters, as in a .creds file)", k.PublicKey)
		}
		nb, na := k.GetNotBefore(), k.GetNotAfter()
		if nb != nil && nb.CheckValid() != nil {
			v.addf(field+".not_before", "not a valid time: %v", nb.CheckValid())
			continue
		}
		if na != nil && na.CheckValid() != nil {
			v.addf(field+".not_after", "not a valid time: %v", na.CheckValid())
			continue
		}
		if nb != nil && na != nil && !na.AsTime().After(nb.AsTime()) {
			v.addf(field+".not_after", "%s is not after not_before %s; a key must be valid for some time",
				na.AsTime().Format(timeLayout), nb.AsTime().Format(timeLayout))
		}
		if na == nil {
			open = append(open, field)
		}
	}
	if len(open) > 1 {
		v.addf("keys", "%s are all open-ended (no not_after); only the current key may be: close the older ones at the rotation time",
			strings.Join(open, ", "))
	}
}

// capabilities checks a responder's capabilities.
func (v *validator) capabilities(m *tocsinv1.Member) {
	if len(m.Capabilities) > 0 && !HasRole(m, tocsinv1.Role_ROLE_RESPONDER) {
		v.addf("capabilities", "only responders declare capabilities: add the role responder or remove them")
	}
	var ids []string
	for i, c := range m.Capabilities {
		field := fmt.Sprintf("capabilities[%d]", i)
		if c == nil {
			v.addf(field, "empty entry; remove it")
			continue
		}
		switch {
		case !isCapabilityID(c.Id):
			v.addf(field+".id", "%q is not a capability id: use tokens (%s) joined by \"/\", such as %q", c.Id, tokenRule, m.Id+"/"+c.Type)
		case slices.Contains(ids, c.Id):
			v.addf(field+".id", "%q is used twice; give each capability of a responder its own id", c.Id)
		}
		ids = append(ids, c.Id)
		if err := v.vocab.CheckCapability(c.Type); err != nil {
			v.addf(field+".type", "%w", err)
		}
		if c.Capacity < 1 {
			v.addf(field+".capacity", "must be at least 1 (units available at once)")
		}
		for j, r := range c.Regions {
			if !isToken(r) {
				v.addf(fmt.Sprintf("%s.regions[%d]", field, j), "%q is not a region: use %s", r, tokenRule)
			}
		}
		if lt := c.GetLeadTime(); lt != nil {
			if err := lt.CheckValid(); err != nil {
				v.addf(field+".lead_time", "not a valid duration: %v", err)
			} else if lt.AsDuration() < 0 {
				v.addf(field+".lead_time", "%s is negative; give the time from acceptance to arrival, 0 or more", lt.AsDuration())
			}
		}
	}
}
