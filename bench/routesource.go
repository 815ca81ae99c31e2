package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/ids"
	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/tlp"
)

// alertSource holds the benchmark's members and signers.
type alertSource struct {
	reg     *members.Registry
	signers []*envelope.Signer
	service *envelope.Signer
}

func newAlertSource(ctx context.Context, js jetstream.JetStream) (*alertSource, error) {
	reg, err := members.Open(ctx, js, members.DefaultVocabulary(), nil)
	if err != nil {
		return nil, err
	}
	src := &alertSource{reg: reg}
	var cast []*tocsinv1.Member
	for i := range 64 {
		cast = append(cast, &tocsinv1.Member{Id: fmt.Sprintf("hospital-%d", i), Name: "bench hospital", Sectors: []string{benchSector},
			Region: "northeast", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}})
	}
	cast = append(cast, &tocsinv1.Member{Id: "svc-bench", Name: "bench router", Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_SERVICE}})
	for _, m := range cast {
		s, _, err := envelope.NewMemberKey(m)
		if err != nil {
			return nil, err
		}
		if m.GetId() == "svc-bench" {
			src.service = s
		} else {
			src.signers = append(src.signers, s)
		}
	}
	if _, err := reg.Seed(ctx, cast); err != nil {
		return nil, err
	}
	return src, nil
}

// seal makes n signed alerts, each with its own C2 address.
func (s *alertSource) seal(n int) ([]*nats.Msg, error) {
	msgs := make([]*nats.Msg, 0, n)
	for i := range n {
		signer := s.signers[i%len(s.signers)]
		a := &tocsinv1.Alert{Title: "C2 of BlackHarbor ransomware", Lane: tocsinv1.Lane_LANE_URGENT, Sectors: []string{benchSector},
			Tlp: tocsinv1.TLP_TLP_GREEN, StixBundle: benchBundle(i), RecommendedAction: "block at the perimeter"}
		env, err := signer.Seal(tocsinv1.Kind_KIND_ALERT, a)
		if err != nil {
			return nil, err
		}
		data, err := envelope.Marshal(env)
		if err != nil {
			return nil, err
		}
		m := nats.NewMsg(subjects.Ingest(subjects.KindAlert, signer.Sender()))
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, env.GetId())
		msgs = append(msgs, m)
	}
	return msgs, nil
}

func benchBundle(i int) []byte {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	ind := "indicator--" + ids.V4()
	mark := []string{tlp.MarkingGreen}
	objs := []map[string]any{
		{"type": "indicator", "spec_version": "2.1", "id": ind, "created": now, "modified": now, "valid_from": now,
			"name": "BlackHarbor C2", "description": "Command and control address seen in the vendor VPN compromise at a northeast hospital.",
			"pattern": fmt.Sprintf("[ipv4-addr:value = '10.%d.%d.%d']", i/65536%256, i/256%256, i%256), "pattern_type": "stix",
			"indicator_types": []string{"malicious-activity"}, "object_marking_refs": mark,
			"kill_chain_phases": []map[string]string{{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}}},
		{"type": "malware", "spec_version": "2.1", "id": "malware--" + ids.V4(), "created": now, "modified": now,
			"name": "BlackHarbor", "is_family": true, "malware_types": []string{"ransomware"}, "object_marking_refs": mark},
	}
	data, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + ids.V4(), "objects": objs})
	return data
}
