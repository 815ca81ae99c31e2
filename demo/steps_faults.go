package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/records"
	"github.com/tocsin-project/tocsin/subjects"
)

func formerMember(_ context.Context, w *world) (string, error) {
	var added []struct {
		ID string `json:"id"`
	}
	if _, err := w.exec(tocsin("", "members", "add", "--id", former, "--name", "North Shore Clinic", "--sectors", "patient-care",
		"--region", "northeast", "--out", ".dev/creds/"+former+".creds"), 0, &added); err != nil {
		return "", err
	}
	var m struct {
		Status string `json:"status"`
	}
	if _, err := w.exec(tocsin("", "members", "revoke", former), 0, &m); err != nil {
		return "", err
	}
	if len(added) != 1 || m.Status != "revoked" {
		return "", fmt.Errorf("%s added %v and %s after the revoke, want revoked", former, added, m.Status)
	}
	return fmt.Sprintf("%s revoked; its old credentials are still on a script's server", former), nil
}

func startAgents(ctx context.Context, w *world) (string, error) {
	w.say.command(agentCommand(stMary))
	w.aside("... and the same for each of the %d member organisations", len(w.readers()))
	w.step.Commands = append(w.step.Commands, agentCommand(stMary).String())
	for _, m := range w.readers() {
		if err := w.fleet.start(m.GetId()); err != nil {
			return "", err
		}
	}
	n, err := w.allReading(ctx, w.readers())
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d agents reading their %d consumers (sectors and direct inbox)", len(w.readers()), n), nil
}

// allReading waits until every consumer of the agents of ms has a waiting
// pull, and returns how many there are.
func (w *world) allReading(ctx context.Context, ms []*tocsinv1.Member) (int, error) {
	var idle []string
	err := poll(ctx, func() (bool, error) {
		var err error
		idle, err = w.c.reading(ctx, ms)
		return len(idle) == 0, err
	})
	if err != nil {
		return 0, fmt.Errorf("consumers not read: %s: %w", list(idle), err)
	}
	n := 0
	for _, m := range ms {
		n += len(agentConsumers(m))
	}
	return n, nil
}

// running are the members whose agent runs.
func (w *world) running() []*tocsinv1.Member {
	var out []*tocsinv1.Member
	for _, m := range w.readers() {
		if w.fleet.isRunning(m.GetId()) {
			out = append(out, m)
		}
	}
	return out
}

func agentOffline(ctx context.Context, w *world) (string, error) {
	w.aside("Ctrl-C in %s's agent terminal", valley)
	start := time.Now()
	if err := w.fleet.stop(valley); err != nil {
		return "", err
	}
	// Until its last pull expires, the cluster would still hand the agent
	// messages (redelivered only after the ack wait): wait until it sees
	// no reader, as it would long before 02:14.
	cs := agentConsumers(w.member(valley))
	err := poll(ctx, func() (bool, error) {
		for _, c := range cs {
			info, err := w.c.consumerInfo(ctx, c)
			if err != nil || info.NumWaiting > 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return "", fmt.Errorf("the cluster still sees a reader on %s's consumers: %w", valley, err)
	}
	return fmt.Sprintf("%s's agent is offline: after %s the cluster sees no reader on its %d consumers, which keep what arrives for it",
		valley, span(time.Since(start)), len(cs)), nil
}

func nodeDown(ctx context.Context, w *world) (string, error) {
	const victim = 2
	name := w.c.nodeName(victim)
	on, err := w.c.consumersOn(ctx, w.running(), name)
	if err != nil {
		return "", err
	}
	w.aside("make run keeps its 3 nodes in one process; on a real cluster: systemctl stop tocsin on %s's machine", name)
	start := time.Now()
	w.c.killNode(victim)
	if err := w.c.serving(ctx); err != nil {
		return "", err
	}
	serving := time.Since(start)
	if _, err := w.allReading(ctx, w.running()); err != nil {
		return "", err
	}
	reading := time.Since(start)
	outcome := fmt.Sprintf("%s is down; every stream had a leader again after %s; the %s on it were re-created on the other nodes: all %d agents reading again after %s",
		name, span(serving), count(len(on), "agent consumer"), len(w.running()), span(reading))
	w.sum.Faults = append(w.sum.Faults, Fault{"node " + name + " down", fmt.Sprintf("serving again after %s, every agent reading after %s; the story went on with 2 nodes",
		span(serving), span(reading))})
	return outcome, nil
}

func agentBack(ctx context.Context, w *world) (string, error) {
	w.say.command(agentCommand(valley))
	w.step.Commands = append(w.step.Commands, agentCommand(valley).String())
	start := time.Now()
	if err := w.fleet.start(valley); err != nil {
		return "", err
	}
	want, err := w.c.routedTo(ctx, w.member(valley))
	if err != nil {
		return "", err
	}
	l := w.fleet.written
	missing := func() []string {
		var out []string
		for id := range want {
			if _, ok := l.get(valley, id); !ok {
				out = append(out, id)
			}
		}
		return out
	}
	if err := l.wait(ctx, func() bool { return len(missing()) == 0 }); err != nil {
		return "", fmt.Errorf("%s's agent never wrote %s: %w", valley, list(missing()), err)
	}
	took := time.Since(start)
	kinds := map[string]int{}
	for id := range want {
		e, _ := l.get(valley, id)
		kinds[e.rec.Kind]++
	}
	lines, err := feedIDs(w.fleet.jsonl(valley))
	if err != nil {
		return "", err
	}
	if twice := repeated(lines); len(twice) > 0 {
		return "", fmt.Errorf("%s's feed holds %s more than once", valley, list(twice))
	}
	for _, key := range []string{"alert", "advisory"} {
		if err := w.receipts(ctx, w.ids[key], []string{valley}, "delivered", func(r records.Reach) bool { return !r.Delivered.IsZero() }); err != nil {
			return "", err
		}
	}
	var parts []string
	for _, k := range []string{"alert", "advisory", "sighting-summary"} {
		if kinds[k] > 0 {
			parts = append(parts, count(kinds[k], k))
		}
	}
	outcome := fmt.Sprintf("caught up %d messages (%s) in %s: none missing, none twice; its delivered receipts reached the liaison's reach view",
		len(want), strings.Join(parts, ", "), span(took))
	w.sum.Faults = append(w.sum.Faults, Fault{"agent offline from 01:50 to 02:50", fmt.Sprintf("%s caught up %d messages, none missing, none twice", valley, len(want))})
	return outcome, nil
}

func revokedRefused(ctx context.Context, w *world) (string, error) {
	res, err := w.exec(tocsin(former, "alert", "publish", "--file", "examples/st-mary-ransomware.json",
		"--sectors", "patient-care", "--lane", "flash", "--tlp", "amber", "--exercise", "--wait"), 5, nil)
	if err != nil {
		return "", err
	}
	var m struct {
		Status    string `json:"status"`
		RevokedAt string `json:"revoked_at"`
	}
	if _, err := w.exec(tocsin("", "members", "show", former), 0, &m); err != nil {
		return "", err
	}
	if m.Status != "revoked" {
		return "", fmt.Errorf("the registry shows %s %s, want revoked", former, m.Status)
	}
	got, err := w.c.ingested(ctx)
	if err != nil {
		return "", err
	}
	for subject, n := range got {
		if _, sender, _ := subjects.IngestSender(subject); sender == former {
			return "", fmt.Errorf("INGEST holds %d messages from %s on %s", n, former, subject)
		}
	}
	w.sum.Faults = append(w.sum.Faults, Fault{"revoked member", "its credentials refused at connect; nothing from it in the cluster"})
	return fmt.Sprintf("refused at the door, exit code 5: credentials not accepted (%s); the registry shows it revoked since %s; the cluster holds nothing from it",
		res.line(), m.RevokedAt), nil
}
