package agent

import (
	"slices"

	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// relays returns the ids of the directory's members with the service
// role: Tocsin's nodes, which seal with their own key what a member does
// through the web face (via "console", "taxii"), such as an
// acknowledgement made in the console, which comes back to the member's
// inbox as the router's echo. Those listed when the agent starts are the
// relays its verifier accepts.
func (d *directory) relays() []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []string
	for id, m := range d.byID {
		if members.HasRole(m, tocsinv1.Role_ROLE_SERVICE) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
