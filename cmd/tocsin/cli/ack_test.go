package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/agent"
	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testworld"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// TestAckRefusesWhatWasNeverRoutedToYou: `tocsin ack` waits for the
// router's decision: an id never routed (a well-formed id from nowhere) and
// an advisory to another sector are refused with exit 2 and the reason; an
// advisory to the member's own sector is acknowledged.
func TestAckRefusesWhatWasNeverRoutedToYou(t *testing.T) {
	w := testworld.Start(t, []*tocsinv1.Member{
		testworld.Member("hhs", tocsinv1.Role_ROLE_LIAISON, "federal"),
		testworld.Member("st-mary", tocsinv1.Role_ROLE_MEMBER, "patient-care"),
		testworld.Member("acme-pharma", tocsinv1.Role_ROLE_MEMBER, "pharma"),
	}, runAgentService)
	adv := publishAdvisory(w, "hhs", "patient-care")
	server := "--server=" + w.C.ClientURL()
	for name, c := range map[string]struct{ creds, id string }{
		"an id never routed":            {w.Creds["st-mary"], envelope.NewID()},
		"an advisory to another sector": {w.Creds["acme-pharma"], adv.GetId()},
		"the sender's own advisory":     {w.Creds["hhs"], adv.GetId()},
	} {
		code, out := run(t, "ack", server, "--creds", c.creds, c.id)
		if code != ExitRejected || !strings.Contains(out, "never routed to") || strings.Contains(out, "acknowledged "+c.id) {
			t.Errorf("%s: exit %d, %q; want %d and the reason", name, code, out, ExitRejected)
		}
	}
	if code, out := run(t, "ack", server, "--creds", w.Creds["st-mary"], adv.GetId()); code != ExitOK || !strings.Contains(out, "acknowledged "+adv.GetId()) {
		t.Fatalf("ack of an advisory to its own sector: exit %d, %q", code, out)
	}
}

// runAgentService runs the agent service (the directory the CLI reads) in
// a test world.
func runAgentService(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, reg *members.Registry) error {
	s, err := agent.NewService(agent.ServiceDeps{Conn: nc, JS: js, Registry: reg}, agent.ServiceOptions{}, zap.NewNop())
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// publishAdvisory publishes a TLP:GREEN advisory of liaison to sector and
// waits until it is routed.
func publishAdvisory(w *testworld.World, liaison, sector string) *tocsinv1.Envelope {
	adv := w.Publish(liaison, tocsinv1.Kind_KIND_ADVISORY, &tocsinv1.Advisory{Title: "patch the VPN", Lane: tocsinv1.Lane_LANE_URGENT,
		Sectors: []string{sector}, Tlp: tocsinv1.TLP_TLP_GREEN})[0]
	w.Routed(liaison, []*tocsinv1.Envelope{adv})
	return adv
}
