package envelope

import (
	"strings"
	"time"

	"github.com/tocsin-project/tocsin/codes"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// DefaultMaxSkew is the clock skew CheckSkew allows when given none.
const DefaultMaxSkew = 5 * time.Minute

// CheckSubjectSender checks, at ingest, that env's sender is the member the
// subject names: the subject is "<prefix>.<kind>.<sender>" (prefix is
// "tocsin.ingest"), and the NATS server lets a member publish only on its own
// sender token. Any other subject, or another sender, is SENDER_MISMATCH.
func CheckSubjectSender(env *tocsinv1.Envelope, subject, prefix string) error {
	rest, ok := strings.CutPrefix(subject, prefix+".")
	tokens := strings.Split(rest, ".")
	if !ok || prefix == "" || len(tokens) != 2 || tokens[0] == "" {
		return codes.Errorf(senderMismatch, "envelope %s arrived on %q, not on an ingest subject %s.<kind>.<sender>", env.GetId(), subject, prefix)
	}
	if tokens[1] != env.GetSender() {
		return codes.Errorf(senderMismatch, "envelope %s names sender %q but arrived on %s, the ingest subject of %q; publish on your own ingest subject",
			env.GetId(), env.GetSender(), subject, tokens[1])
	}
	return nil
}

// CheckSkew checks, once, at ingest, that env's time is within maxSkew
// (DefaultMaxSkew when maxSkew <= 0) of streamTime, the timestamp the
// JetStream ingest stream gave the message. Checking against the stream's
// time rather than the clock lets a consumer that falls behind still accept
// what was on time when published. The check is also what stops a key that
// was stolen and since rotated out from signing new messages backdated into
// its old validity.
func CheckSkew(env *tocsinv1.Envelope, streamTime time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	if env.GetTime() == nil {
		return codes.Errorf(malformed, "envelope %s has no time; set it to the time the message was created", env.GetId())
	}
	t := env.GetTime().AsTime()
	if skew := t.Sub(streamTime); skew > maxSkew || skew < -maxSkew {
		return codes.Errorf(clockSkew, "envelope %s is dated %s, %s from the cluster's %s (at most %s allowed); synchronise the sender's clock (NTP)",
			env.GetId(), t.Format(time.RFC3339), skew.Round(time.Second), streamTime.UTC().Format(time.RFC3339), maxSkew)
	}
	return nil
}
