package auth_test

import (
	"errors"
	"testing"

	"github.com/tocsin-project/tocsin/auth"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// A member named "<id>-site" would share its inbox and rejections
// consumers (and, in a sector "sectors", that one) with <id>'s site
// consumers: the registry is refused.
func TestAccountJWTsRefuseASiteConsumerCollision(t *testing.T) {
	a, err := auth.Init(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := func(id string, sectors ...string) *tocsinv1.Member {
		return &tocsinv1.Member{Id: id, Name: id, Sectors: sectors, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
	}
	if _, err := a.AccountJWTs([]*tocsinv1.Member{m("st-mary", "patient-care"), m("st-mary-site", "sectors")}); !errors.Is(err, auth.ErrInvalidMember) {
		t.Fatalf("colliding site consumer: %v, want ErrInvalidMember", err)
	}
	if _, err := a.AccountJWTs([]*tocsinv1.Member{m("st-mary", "patient-care"), m("st-mary-annex", "sectors")}); err != nil {
		t.Fatal(err)
	}
}
