package envelope

import (
	"errors"
	"testing"
	"time"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

func TestCheckSubjectSender(t *testing.T) {
	env := seal(t, testSigner(t, "st-mary", 1))
	tests := []struct {
		subject, prefix string
		ok              bool
	}{
		{"tocsin.ingest.alert.st-mary", "tocsin.ingest", true},
		{"t.alert.st-mary", "t", true},
		{"tocsin.ingest.alert.st-luke", "tocsin.ingest", false},
		{"tocsin.ingest.alert.st-mary.x", "tocsin.ingest", false},
		{"tocsin.ingest.st-mary", "tocsin.ingest", false},
		{"tocsin.ingest..st-mary", "tocsin.ingest", false},
		{"tocsin.ingest.alert.", "tocsin.ingest", false},
		{"other.ingest.alert.st-mary", "tocsin.ingest", false},
		{"tocsin.ingestx.alert.st-mary", "tocsin.ingest", false},
		{"alert.st-mary", "", false},
		{"", "tocsin.ingest", false},
	}
	for _, tt := range tests {
		err := CheckSubjectSender(env, tt.subject, tt.prefix)
		if tt.ok && err != nil {
			t.Errorf("CheckSubjectSender(%q, %q) = %v", tt.subject, tt.prefix, err)
		}
		if !tt.ok && !errors.Is(err, codes.Err(senderMismatch)) {
			t.Errorf("CheckSubjectSender(%q, %q) = %v, want sender-mismatch", tt.subject, tt.prefix, err)
		}
	}
}

func TestCheckSkew(t *testing.T) {
	env := seal(t, testSigner(t, "st-mary", 1))
	noTime := seal(t, testSigner(t, "st-mary", 1))
	noTime.Time = nil
	tests := []struct {
		name    string
		env     *tocsinv1.Envelope
		stream  time.Time
		maxSkew time.Duration
		want    tocsinv1.RejectionCode
	}{
		{"same time", env, t0, time.Minute, 0},
		{"at the limit, late", env, t0.Add(time.Minute), time.Minute, 0},
		{"at the limit, early", env, t0.Add(-time.Minute), time.Minute, 0},
		{"too old", env, t0.Add(time.Minute + time.Nanosecond), time.Minute, clockSkew},
		{"from the future", env, t0.Add(-time.Minute - time.Nanosecond), time.Minute, clockSkew},
		{"default within", env, t0.Add(DefaultMaxSkew), 0, 0},
		{"default beyond", env, t0.Add(DefaultMaxSkew + time.Second), 0, clockSkew},
		{"stream far in the future", env, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), time.Minute, clockSkew},
		{"no time", noTime, t0, time.Minute, malformed},
	}
	for _, tt := range tests {
		err := CheckSkew(tt.env, tt.stream, tt.maxSkew)
		if tt.want == 0 && err != nil {
			t.Errorf("%s: CheckSkew() = %v", tt.name, err)
		}
		if tt.want != 0 && !errors.Is(err, codes.Err(tt.want)) {
			t.Errorf("%s: CheckSkew() = %v, want %s", tt.name, err, codes.Name(tt.want))
		}
	}
}
