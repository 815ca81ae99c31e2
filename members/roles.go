package members

import (
	"slices"
	"strings"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// roleName pairs a role's seed-file name with its wire value.
type roleName struct {
	name string
	role tocsinv1.Role
}

// roleNames maps each role's seed-file name to its wire value, in the
// order the roles are listed in messages.
var roleNames = []roleName{
	{"member", tocsinv1.Role_ROLE_MEMBER},
	{"responder", tocsinv1.Role_ROLE_RESPONDER},
	{"liaison", tocsinv1.Role_ROLE_LIAISON},
	{"vendor", tocsinv1.Role_ROLE_VENDOR},
	{"admin", tocsinv1.Role_ROLE_ADMIN},
	{"service", tocsinv1.Role_ROLE_SERVICE},
}

// RoleNames returns the names ParseRole accepts: member, responder,
// liaison, vendor, admin, service.
func RoleNames() []string {
	names := make([]string, len(roleNames))
	for i, r := range roleNames {
		names[i] = r.name
	}
	return names
}

// ParseRole returns the role named s ("member", "responder", "liaison",
// "vendor", "admin", "service"), or an error listing the known names.
func ParseRole(s string) (tocsinv1.Role, error) {
	for _, r := range roleNames {
		if r.name == s {
			return r.role, nil
		}
	}
	names := RoleNames()
	return 0, quiet(ErrUnknownWord, "unknown role %q%s; known: %s", s, didYouMean(s, names), strings.Join(names, ", "))
}

// RoleName returns the seed-file name of r, or its enum name when r is not
// a role ParseRole knows (ROLE_UNSPECIFIED, a value from a newer peer).
func RoleName(r tocsinv1.Role) string {
	for _, n := range roleNames {
		if n.role == r {
			return n.name
		}
	}
	return r.String()
}

// knownRole reports whether r is one of the roles ParseRole knows.
func knownRole(r tocsinv1.Role) bool {
	return slices.ContainsFunc(roleNames, func(n roleName) bool { return n.role == r })
}
