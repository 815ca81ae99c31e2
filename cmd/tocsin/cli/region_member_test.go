package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tocsin-project/tocsin/envelope"
	"github.com/tocsin-project/tocsin/internal/testwait"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
	"github.com/tocsin-project/tocsin/web/webauth"
)

// regionMember is a dev cluster with the streams of regions east and west
// (regionStreams) and st-anne, a member of patient-care homed in east.
type regionMember struct {
	d     *devCluster
	js    jetstream.JetStream
	creds string
}

func startRegionMember(ctx context.Context, t *testing.T) *regionMember {
	t.Helper()
	d := startDevCluster(t)
	js := d.serviceJS()
	regionStreams(ctx, t, js, "east", "west")
	creds := filepath.Join(t.TempDir(), "st-anne.creds")
	d.must("members", "add", "--id", "st-anne", "--name", "St. Anne", "--sectors", "patient-care", "--region", "northeast",
		"--home-region", "east", "--out", creds)
	return &regionMember{d: d, js: js, creds: creds}
}

// lastIngested is the last envelope st-anne published of kind (its
// subject's token), as its home region's INGEST-east stored it.
func (r *regionMember) lastIngested(ctx context.Context, t *testing.T, kind string) *tocsinv1.Envelope {
	t.Helper()
	subject := subjects.InRegion("east", subjects.Ingest(kind, "st-anne"))
	var env *tocsinv1.Envelope
	testwait.Until(ctx, t, "st-anne's "+kind+" in INGEST-east", func() error {
		s, err := r.js.Stream(ctx, "INGEST-east")
		if err != nil {
			return err
		}
		m, err := s.GetLastMsgForSubject(ctx, subject)
		if err != nil {
			return err
		}
		env, err = envelope.Decode(m.Data, 0)
		return err
	})
	return env
}

// TestAckOnAStreamSetPerRegion: a member homed in east acknowledges a copy
// routed in west with --region west: the receipt its home region's INGEST
// takes names west (ref_region), and tocsin ack reads the receipt's
// outcome from its home region's ROUTED-east, where east's router writes
// it (here the test writes it, as that router would).
func TestAckOnAStreamSetPerRegion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := startRegionMember(ctx, t)
	routed, err := r.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: subjects.RegionStream(records.BucketRouted, "east"), Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := r.d.cli("ack", "--creds", r.creds, "--region", "tocsin.r.west", envelope.NewID())
	if code != ExitUsage || !strings.Contains(errOut, "is not a region's name") {
		t.Fatalf("ack --region tocsin.r.west: exit %d\n%s%s\nwant a usage error", code, out, errOut)
	}

	id := envelope.NewID()
	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := r.d.cli("ack", "--creds", r.creds, "--region", "west", "--by", "J. Ortiz", id)
		done <- result{code, out, errOut}
	}()
	env := r.lastIngested(ctx, t, subjects.KindReceipt)
	var rc tocsinv1.Receipt
	if err := proto.Unmarshal(env.GetPayload(), &rc); err != nil {
		t.Fatal(err)
	}
	if rc.GetRefId() != id || rc.GetRefRegion() != "west" || rc.GetBy() != "J. Ortiz" {
		t.Fatalf("st-anne's receipt in INGEST-east: ref %q, ref_region %q, by %q; want %s, west, J. Ortiz", rc.GetRefId(), rc.GetRefRegion(), rc.GetBy(), id)
	}
	o, _ := proto.Marshal(&tocsinv1.Outcome{RefId: env.GetId(), State: tocsinv1.OutcomeState_OUTCOME_STATE_ROUTED, At: timestamppb.Now()})
	if _, err := routed.Create(ctx, records.OutcomeKey("st-anne", env.GetId()), o); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res.code != ExitOK || !strings.Contains(res.out, "acknowledged "+id+" by J. Ortiz") {
			t.Fatalf("ack --region west: exit %d\n%s%s\nwant the outcome read from ROUTED-east", res.code, res.out, res.errOut)
		}
	case <-ctx.Done():
		t.Fatal("tocsin ack did not end")
	}
}

// TestTokenOnAStreamSetPerRegion: on a channel with a stream set per
// region, tocsin token issues a member's token into its home region's
// WEBTOKENS-east, where that region's web face looks tokens up (not
// WEBTOKENS), lists and revokes it there with --region east, and refuses
// a region without tokens naming it.
func TestTokenOnAStreamSetPerRegion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := startRegionMember(ctx, t)
	if _, err := r.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: subjects.RegionStream(webauth.Bucket, "east"), Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	token := func(args ...string) (int, string) {
		code, out, errOut := r.d.cli(append([]string{"token"}, append(args, "--keys", r.d.keys)...)...)
		return code, out + errOut
	}
	code, out := token("issue", "--member", "st-anne", "--json")
	var issued tokenJSON
	if err := json.Unmarshal([]byte(out), &issued); code != ExitOK || err != nil || issued.Region != "east" {
		t.Fatalf("token issue --member st-anne: exit %d\n%s\nwant a token of st-anne's home region east", code, out)
	}
	// East's web face finds it in WEBTOKENS-east; the single cluster's
	// WEBTOKENS has nothing of it.
	for bucket, want := range map[string]bool{subjects.RegionStream(webauth.Bucket, "east"): true, webauth.Bucket: false} {
		tokens, err := webauth.OpenTokensIn(ctx, r.js, bucket)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tokens.Get(ctx, issued.ID)
		if found := err == nil; found != want {
			t.Errorf("token %s in %s: %v, want found %v", issued.ID, bucket, err, want)
		}
	}
	if code, out := token("list", "--region", "east"); code != ExitOK || !strings.Contains(out, issued.ID) {
		t.Errorf("token list --region east: exit %d\n%s\nwant %s", code, out, issued.ID)
	}
	if code, out := token("list", "--region", "west"); code != ExitRejected || !strings.Contains(out, `is "west" one of the channel's regions`) {
		t.Errorf("token list --region west (no WEBTOKENS-west): exit %d\n%s", code, out)
	}
	if code, out := token("revoke", "--region", "east", issued.ID); code != ExitOK || !strings.Contains(out, "revoked "+issued.ID) {
		t.Fatalf("token revoke --region east: exit %d\n%s", code, out)
	}
}

// TestTailOnAStreamSetPerRegion: tocsin tail of a member homed in east
// watches every region's copies of its sectors and inbox: a copy that
// west's router published is shown, verified, as routed in west (what
// tocsin ack --region takes).
func TestTailOnAStreamSetPerRegion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := startRegionMember(ctx, t)
	tl := startTail(t, r.d, "--creds", r.creds, "--count", "1", "--json")
	if !strings.Contains(tl.err.String(), "tocsin.r.*.sector.patient-care.>") {
		t.Fatalf("tail of a member homed in east: %s; want every region's patient-care copies watched", tl.err.String())
	}
	signer, err := envelope.SignerFromCredsFile("st-mary", filepath.Join(r.d.data, "creds", "st-mary.creds"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := signer.Seal(tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{Title: "LockBit on the EHR", Lane: tocsinv1.Lane_LANE_FLASH,
		Tlp: tocsinv1.TLP_TLP_GREEN, Sectors: []string{"patient-care"}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := envelope.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.js.Publish(ctx, subjects.InRegion("west", subjects.Sector("patient-care", "flash")), data); err != nil {
		t.Fatal(err)
	}
	var line tailLine
	if out := tl.wait(t); json.Unmarshal([]byte(out), &line) != nil || !line.Verified || line.ID != env.GetId() || line.Region != "west" || line.Lane != "flash" {
		t.Fatalf("tail showed %s; want %s verified, routed in west, lane flash", out, env.GetId())
	}
}
