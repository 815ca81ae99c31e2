package reach

import (
	"context"
	"slices"

	"github.com/tocsin-project/tocsin/client"
	"github.com/tocsin-project/tocsin/records"
)

// addContacts gives every member of a liaison's report that has not
// acknowledged its 24/7 contact from the registry, for the follow-up call
// (records.FetchContacts; the agent service answers liaisons only). When
// the contacts cannot be had, the report says why and stands without them.
func addContacts(ctx context.Context, cl *client.Client, rep *Report) {
	var rows []*Member
	for i := range rep.Sectors {
		for j := range rep.Sectors[i].Members {
			rows = append(rows, &rep.Sectors[i].Members[j])
		}
	}
	for i := range rep.Recipients {
		rows = append(rows, &rep.Recipients[i])
	}
	rows = slices.DeleteFunc(rows, func(m *Member) bool { return !m.Acknowledged.IsZero() })
	if len(rows) == 0 {
		return
	}
	ids := make([]string, 0, len(rows))
	for _, m := range rows {
		ids = append(ids, m.Member)
	}
	slices.Sort(ids)
	contacts, err := records.FetchContacts(ctx, cl.Conn(), cl.Member(), slices.Compact(ids))
	if err != nil {
		rep.ContactsError = err.Error()
		return
	}
	for _, m := range rows {
		m.Contact = contacts[m.Member]
	}
}
