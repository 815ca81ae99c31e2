package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/envelope"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// What a piece of bad input must come to.
const (
	// expectRejected: acknowledged by JetStream, then refused by the
	// router with a reason (REJECTIONS and, with an id, the outcome).
	expectRejected = "rejected"
	// expectRefused: never acknowledged; the publish itself fails.
	expectRefused = "refused"
	// expectDropped: a replay of a routed alert; the copy is dropped (by
	// JetStream's duplicate window, or by the router with reason replay),
	// the original's outcome stands and it is delivered once.
	expectDropped = "dropped"
)

// badMsg is one piece of bad input, ready to publish.
type badMsg struct {
	class string
	data  []byte
	// msgID is the Nats-Msg-Id it is published with.
	msgID string
	// envID is the envelope id the router sees; "" when it does not
	// decode (its rejection then has no ref_id).
	envID  string
	expect string
	// replayOf is the routed alert a replay repeats.
	replayOf string
	// subject overrides the fuzzer's alert ingest subject.
	subject string
}

// BadEvent is one line of the bad-input log.
type BadEvent struct {
	Class     string    `json:"class"`
	N         int       `json:"n"`
	MsgID     string    `json:"msg_id"`
	EnvID     string    `json:"env_id,omitempty"`
	Expect    string    `json:"expect"`
	ReplayOf  string    `json:"replay_of,omitempty"`
	Bytes     int       `json:"bytes"`
	Acked     bool      `json:"acked"`
	Duplicate bool      `json:"duplicate,omitempty"`
	Err       string    `json:"err,omitempty"`
	At        time.Time `json:"at"`
}

// campaign sends bad input as fast as PubAcks come back, one class after
// another, while the workload runs.
type campaign struct {
	w      *world
	path   string
	pub    *publisher
	rng    *rand.Rand
	thief  *envelope.Signer
	forger *envelope.Signer

	budget *budget

	mu     sync.Mutex
	events []BadEvent
}

// bigBad is the size from which a piece of bad input counts against the
// budget: smaller pieces go at full speed.
const bigBad = 16 << 10

// budget paces the large pieces of bad input, which INGEST keeps for
// seven days (and so the run's disk), to bytesPerSecond on average.
type budget struct {
	bytesPerSecond float64
	start          time.Time
	spent          float64
}

// take reports whether n more bytes fit now; refused pieces are never
// stored and always fit.
func (b *budget) take(n int, refused bool) bool {
	if n < bigBad || refused {
		return true
	}
	if b.spent+float64(n) > b.bytesPerSecond*time.Since(b.start).Seconds() {
		return false
	}
	b.spent += float64(n)
	return true
}

func newCampaign(w *world, path string) *campaign {
	return &campaign{w: w, path: path, rng: rand.New(rand.NewPCG(uint64(w.opts.Seed), 0xbad)),
		budget: &budget{bytesPerSecond: float64(w.opts.BadBytesPerSecond), start: time.Now()},
		pub: &publisher{c: w.fuzz, run: w.run, ingest: w.cl.lay.streamOf(subjects.StreamIngest, fuzzerID), agents: agentCast(w.opts.Agents), ledger: w.ledger, log: w.log, progress: w.progress,
			rng: rand.New(rand.NewPCG(uint64(w.opts.Seed), 0xf00))}}
}

// run sends bad input until stop is closed and writes the log.
func (c *campaign) run(ctx context.Context, stop <-chan struct{}) error {
	if err := c.w.ledger.open(fuzzerID, strings.TrimSuffix(c.path, ".jsonl")+"-originals.jsonl"); err != nil {
		return err
	}
	var err error
	// A member whose key was stolen (pub-1) and a member whose key signs
	// for someone else (agt-1).
	if c.thief, err = envelope.SignerFromCredsFile("pub-1", credsOf(c.w.creds, "pub-1")); err != nil {
		return err
	}
	if c.forger, err = envelope.SignerFromCredsFile("agt-1", credsOf(c.w.creds, "agt-1")); err != nil {
		return err
	}
	gens := c.generators()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return c.writeLog()
		case <-ctx.Done():
			return c.writeLog()
		default:
		}
		m, err := gens[i%len(gens)](ctx)
		if err != nil {
			return fmt.Errorf("bad input %d: %w", i, err)
		}
		if m == nil || !c.budget.take(len(m.data), m.expect == expectRefused) {
			continue
		}
		c.send(ctx, i, m)
	}
}

// send publishes m once (retrying a timeout with the same message id) and
// logs what happened.
func (c *campaign) send(ctx context.Context, n int, m *badMsg) {
	subject := m.subject
	if subject == "" {
		subject = subjects.Ingest(subjects.KindAlert, fuzzerID)
	}
	ev := BadEvent{Class: m.class, N: n, MsgID: m.msgID, EnvID: m.envID, Expect: m.expect, ReplayOf: m.replayOf, Bytes: len(m.data), At: time.Now()}
	ack, tries, err := publishBad(ctx, c.w.fuzz.JetStream(), c.w.cl.lay.streamOf(subjects.StreamIngest, fuzzerID), subject, m.data, m.msgID)
	if took := time.Since(ev.At); took > slowPublish {
		c.w.progress("bad input %s %s: %d tries in %.1fs (%v)", m.class, m.msgID, tries, took.Seconds(), err)
	}
	if err != nil {
		ev.Err = err.Error()
	} else {
		ev.Acked, ev.Duplicate = true, ack.Duplicate
	}
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
}

// publishBad is publishInto stream (the sender's INGEST), except that a
// message larger than the cluster's max payload is published once: its
// refusal is the point.
func publishBad(ctx context.Context, js jetstream.JetStream, stream, subject string, data []byte, msgID string) (*jetstream.PubAck, int, error) {
	if len(data) > envelope.DefaultMaxSize {
		ack, err := js.Publish(ctx, subject, data, jetstream.WithMsgID(msgID))
		return ack, 1, err
	}
	return publishInto(ctx, js, stream, subject, data, msgID, 30*time.Second)
}

// Events returns the log so far.
func (c *campaign) Events() []BadEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]BadEvent(nil), c.events...)
}

func (c *campaign) writeLog() error {
	f, err := os.Create(c.path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	for _, e := range c.Events() {
		line, _ := json.Marshal(e)
		bw.Write(append(line, '\n'))
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sealRaw signs an alert envelope of the fuzzer whose payload is raw bytes.
func (c *campaign) sealRaw(payload []byte, opts ...envelope.SealOption) ([]byte, string, error) {
	env, err := c.pub.c.Signer().Seal(tocsinv1.Kind_KIND_ALERT, &tocsinv1.Alert{}, opts...)
	if err != nil {
		return nil, "", err
	}
	env.Payload = payload
	if err := c.pub.c.Signer().Sign(env); err != nil {
		return nil, "", err
	}
	data, err := envelope.Marshal(env)
	return data, env.GetId(), err
}

// sealAlert signs an alert of the fuzzer.
func (c *campaign) sealAlert(a *tocsinv1.Alert, opts ...envelope.SealOption) ([]byte, string, error) {
	env, err := c.pub.c.Signer().Seal(tocsinv1.Kind_KIND_ALERT, a, opts...)
	if err != nil {
		return nil, "", err
	}
	data, err := envelope.Marshal(env)
	return data, env.GetId(), err
}

// predict fills m.envID from what the router's decoder will make of m.data.
func predict(m *badMsg) *badMsg {
	if env, err := envelope.Decode(m.data, 0); err == nil {
		m.envID = env.GetId()
	} else {
		m.envID = ""
	}
	return m
}
