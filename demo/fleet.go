package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/agent"
)

// fleet runs the member organisations' agents in this process, each as
// `tocsin agent` would: a JSONL feed, a STIX folder and a webhook, and its
// own state directory.
type fleet struct {
	data, servers string
	hooks         *hooks
	secretFile    string
	log           *zap.Logger

	// written records what each agent handed its sinks, once the JSONL
	// file and the STIX folder held it.
	written *ledger

	mu      sync.Mutex
	running map[string]*running
}

type running struct {
	cancel context.CancelFunc
	done   chan error
}

func newFleet(data, servers string, h *hooks, log *zap.Logger) (*fleet, error) {
	f := &fleet{data: data, servers: servers, hooks: h, log: log, written: newLedger(), running: map[string]*running{},
		secretFile: filepath.Join(data, "agents", "hook.secret")}
	if err := os.MkdirAll(filepath.Dir(f.secretFile), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(f.secretFile, append(h.secret, '\n'), 0o600); err != nil {
		return nil, err
	}
	return f, nil
}

// jsonl is member's JSONL feed (what its SIEM tails).
func (f *fleet) jsonl(member string) string {
	return filepath.Join(f.data, "agents", member, "alerts.jsonl")
}

// stixDir is member's folder of STIX bundles.
func (f *fleet) stixDir(member string) string { return filepath.Join(f.data, "agents", member, "stix") }

// config is member's agent configuration, the keys of `tocsin agent`.
func (f *fleet) config(member string) agent.Config {
	return agent.Config{
		Creds:             filepath.Join(f.data, "creds", member+".creds"),
		Server:            f.servers,
		Sinks:             []string{"jsonl:" + f.jsonl(member), "stix-dir:" + f.stixDir(member), "webhook:" + f.hooks.url(member)},
		State:             filepath.Join(f.data, "agents", member, "state"),
		WebhookSecretFile: f.secretFile,
	}
}

// agentCommand is the command that runs member's agent by hand.
func agentCommand(member string) command {
	dir := "agents/" + member + "/"
	return tocsin(member, "agent", "--sink", "jsonl:"+dir+"alerts.jsonl", "--sink", "stix-dir:"+dir+"stix",
		"--sink", "webhook:https://soar."+member+".example/tocsin", "--webhook-secret-file", "hook.secret", "--state", dir+"state")
}

// start runs member's agent until stop.
func (f *fleet) start(member string) error {
	opts, err := f.config(member).Options(f.log)
	if err != nil {
		return fmt.Errorf("agent of %s: %w", member, err)
	}
	opts.Sinks = append(opts.Sinks, &observer{member: member, ledger: f.written})
	// A short pull renews often and notices a lost node in half a second.
	opts.FetchWait = 3 * time.Second
	opts.Name = "tocsin demo agent"
	a, err := agent.New(opts, f.log)
	if err != nil {
		for _, s := range opts.Sinks {
			_ = s.Close()
		}
		return fmt.Errorf("agent of %s: %w", member, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	f.mu.Lock()
	f.running[member] = r
	f.mu.Unlock()
	return nil
}

// stop stops member's agent and waits for it.
func (f *fleet) stop(member string) error {
	f.mu.Lock()
	r := f.running[member]
	delete(f.running, member)
	f.mu.Unlock()
	if r == nil {
		return nil
	}
	r.cancel()
	if err := <-r.done; err != nil {
		return fmt.Errorf("agent of %s: %w", member, err)
	}
	return nil
}

// stopAll stops every agent.
func (f *fleet) stopAll() error {
	f.mu.Lock()
	var all []string
	for m := range f.running {
		all = append(all, m)
	}
	f.mu.Unlock()
	var errs []error
	for _, m := range all {
		errs = append(errs, f.stop(m))
	}
	return errors.Join(errs...)
}

// failed returns the error of an agent that stopped by itself.
func (f *fleet) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for m, r := range f.running {
		select {
		case err := <-r.done:
			r.done <- err
			if err == nil {
				err = errors.New("it stopped")
			}
			return fmt.Errorf("the agent of %s: %w", m, err)
		default:
		}
	}
	return nil
}

// isRunning reports whether member's agent runs.
func (f *fleet) isRunning(member string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running[member] != nil
}

// observer is the last sink of every agent: it records what the agent
// handed its sinks, after the JSONL file and the STIX folder took it.
type observer struct {
	member string
	ledger *ledger
}

func (o *observer) Name() string { return "demo-observer" }

func (o *observer) Write(_ context.Context, recs []*agent.Record) error {
	for _, r := range recs {
		o.ledger.add(o.member, r.ID, r)
	}
	return nil
}

func (o *observer) Close() error { return nil }
