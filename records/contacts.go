package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/tocsin-project/tocsin/subjects"
)

// Members' 24/7 contacts, for the liaison: a request on
// subjects.SvcContacts(<liaison>) names at most MaxContactsAsked member
// ids; the answer maps each that has a contact to it, or carries
// HeaderError when the service refuses (the asker is not an active
// liaison). The public directory never has contacts.
const MaxContactsAsked = 1000

// ContactsRequest names the members whose contacts are asked for.
type ContactsRequest struct {
	Members []string `json:"members"`
}

// ContactsReply maps member ids to their contacts; a member without one
// (or unknown) is left out.
type ContactsReply struct {
	Contacts map[string]string `json:"contacts"`
}

// ErrContacts is wrapped when the contacts cannot be fetched or are
// refused.
var ErrContacts = errors.New("contacts unavailable")

// FetchContacts asks, as liaison (the connection's member), for the
// contacts of ids, MaxContactsAsked at a time.
func FetchContacts(ctx context.Context, nc *nats.Conn, liaison string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for len(ids) > 0 {
		n := min(len(ids), MaxContactsAsked)
		req, _ := json.Marshal(ContactsRequest{Members: ids[:n]})
		ids = ids[n:]
		msg, err := nc.RequestWithContext(ctx, subjects.SvcContacts(liaison), req)
		if err != nil {
			return nil, fmt.Errorf("%w: request %s: %v", ErrContacts, subjects.SvcContacts(liaison), err)
		}
		if reason := msg.Header.Get(HeaderError); reason != "" {
			return nil, fmt.Errorf("%w: %s", ErrContacts, reason)
		}
		var rep ContactsReply
		if err := json.Unmarshal(msg.Data, &rep); err != nil {
			return nil, fmt.Errorf("%w: the answer is not JSON: %v", ErrContacts, err)
		}
		for id, c := range rep.Contacts {
			out[id] = c
		}
	}
	return out, nil
}
