package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

// contactsSubjectAll is every liaison's contacts request.
const contactsSubjectAll = subjects.SvcContactsPrefix + "*"

// contacts answers a liaison's request for members' 24/7 contacts (the
// follow-up calls of its advisory's reach). The subject's member token is
// pinned by permissions (only a liaison may publish on its own); the
// registry is asked again, so a member that is no longer an active
// liaison is refused.
func (s *Service) contacts(ctx context.Context, m *nats.Msg) {
	asker := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	var req records.ContactsRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || len(req.Members) > records.MaxContactsAsked {
		s.refuse(m, fmt.Sprintf("the request is not JSON {\"members\": [up to %d member ids]}", records.MaxContactsAsked))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	rec, err := s.d.Registry.Member(ctx, asker)
	switch {
	case errors.Is(err, members.ErrNotFound), err == nil && (rec.GetRevokedAt() != nil || !members.HasRole(rec, tocsinv1.Role_ROLE_LIAISON)):
		s.refuse(m, fmt.Sprintf("members' contacts are the liaison's; %s is not an active liaison", asker))
		return
	case err != nil:
		s.refuse(m, "the member registry cannot be read right now; try again")
		return
	}
	rep := records.ContactsReply{Contacts: map[string]string{}}
	for _, id := range req.Members {
		if !envelope.ValidMemberID(id) {
			continue
		}
		mem, err := s.d.Registry.Member(ctx, id)
		if errors.Is(err, members.ErrNotFound) {
			continue
		}
		if err != nil {
			s.refuse(m, "the member registry cannot be read right now; try again")
			return
		}
		if c := mem.GetContact(); c != "" {
			rep.Contacts[id] = c
		}
	}
	s.log.Info("contacts given", zap.String("liaison", asker), zap.Int("asked", len(req.Members)), zap.Int("given", len(rep.Contacts)))
	data, _ := json.Marshal(rep)
	_ = m.Respond(data)
}
