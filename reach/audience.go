package reach

import (
	"time"

	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// Counted reports whether member m counts in the reach of a message sender
// sent that was routed at at to one of m's sectors: m was active then, it
// reads routed messages (member, responder or liaison), and it is not the
// sender (a sender is not its own recipient, even in a sector it is in).
// The CLI's report (Of) and the console count by this one rule.
func Counted(m *tocsinv1.Member, sender string, at time.Time) bool {
	return m.GetId() != sender && members.Active(m, at) &&
		(members.HasRole(m, tocsinv1.Role_ROLE_MEMBER) || members.HasRole(m, tocsinv1.Role_ROLE_RESPONDER) ||
			members.HasRole(m, tocsinv1.Role_ROLE_LIAISON))
}
