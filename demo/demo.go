package demo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/members"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
)

// world is what the story acts on: the cluster, the agents, the command
// runner, and what earlier steps left for later ones.
type world struct {
	opts  Options
	log   *zap.Logger
	c     *cluster
	cli   *runner
	fleet *fleet
	hooks *hooks
	cast  []*tocsinv1.Member
	say   narrator
	sum   *Summary

	// ids are the message ids the story refers back to ("alert",
	// "advisory", "request", ...).
	ids map[string]string
	// sent is when each published message was sent.
	sent map[string]time.Time
	// step is the step being played, for its commands.
	step *Step
}

// Run plays the story on a cluster of its own in opts.DataDir and returns
// the summary. The error says which step's outcome was not what the story
// says (the summary then holds the steps played so far).
func Run(ctx context.Context, opts Options, log *zap.Logger) (*Summary, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	data, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("demo: data directory: %w", err)
	}
	if err := freshDir(data); err != nil {
		return nil, err
	}
	if err := writeFiles(filepath.Join(data, "files")); err != nil {
		return nil, fmt.Errorf("demo: the story's files: %w", err)
	}
	cast, err := members.DemoSeed()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	say := narrator{opts.Out}
	say.say("tocsin demo: the night St. Mary's went down. Every message is marked exercise.")
	say.say("Data in %s; the commands shown are what you would type against `make run`'s cluster.", data)
	c, err := startCluster(ctx, data, opts.Port, opts.HTTPAddr, log)
	if err != nil {
		return nil, err
	}
	defer c.close()
	sum := &Summary{Console: c.consoleURL(), Data: data}
	say.say("\ncluster  3 nodes ready in %s: %s", span(time.Since(start)), c.servers)
	say.say("console  %s (sign in as hhs-liaison with the token in %s)", sum.Console, filepath.Join(data, "creds", "hhs-liaison.token"))
	h, err := startHooks()
	if err != nil {
		return nil, err
	}
	defer h.close()
	f, err := newFleet(data, c.servers, h, log)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.stopAll() }()
	w := &world{opts: opts, log: log, c: c, fleet: f, hooks: h, cast: cast, say: say, sum: sum, ids: map[string]string{}, sent: map[string]time.Time{},
		cli: &runner{cli: opts.CLI, data: data, servers: c.servers}}
	err = w.play(ctx, story())
	sum.Seconds = time.Since(start).Seconds()
	sum.Passed = err == nil
	sum.print(opts.Out)
	if err == nil && opts.AfterStory != nil {
		if err = opts.AfterStory(ctx, c.servers); err != nil {
			err = fmt.Errorf("demo: after the story: %w", err)
		}
	}
	if err == nil && opts.Stay {
		say.say("\nThe cluster stays up until Ctrl-C: console %s; commands with --server %s and the credentials in %s.",
			sum.Console, c.servers, filepath.Join(data, "creds"))
		<-ctx.Done()
	}
	return sum, err
}

// step is one step of the story.
type step struct {
	at   string // story time ("02:14") or "" for the prologue
	what string // what happens, one line
	// play does it and checks its outcome in the cluster's state; it
	// returns the line saying what each party now has.
	play func(ctx context.Context, w *world) (string, error)
}

// play plays the steps in order; the first whose outcome is not what the
// story says ends it.
func (w *world) play(parent context.Context, steps []step) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	go w.watch(ctx, cancel)
	for _, s := range steps {
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: stopped before %s %s: %w", s.at, s.what, context.Cause(ctx))
		case <-time.After(w.opts.Pace):
		}
		w.step = &Step{At: s.at, What: s.what}
		w.sum.Steps = append(w.sum.Steps, w.step)
		w.say.heading(s.at, s.what)
		start := time.Now()
		sctx, stop := context.WithTimeout(ctx, w.opts.StepTimeout)
		line, err := s.play(sctx, w)
		stop()
		took := time.Since(start)
		w.step.Millis = took.Milliseconds()
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				err = fmt.Errorf("%w (%v)", err, cause)
			}
			w.step.Error = err.Error()
			w.say.failed(err, took)
			return fmt.Errorf("demo: %s %s: %w", s.at, s.what, err)
		}
		w.step.Outcome = line
		w.say.outcome(line, took)
	}
	return nil
}

// watch ends the story when the cluster or an agent stops by itself.
func (w *world) watch(ctx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.c.done:
			cancel(w.c.stopped())
			return
		case <-t.C:
			if err := w.fleet.failed(); err != nil {
				cancel(err)
				return
			}
		}
	}
}

// exec shows command c, runs it and requires exit code want; v receives
// its JSON output.
func (w *world) exec(c command, want int, v any) (result, error) {
	w.say.command(c)
	w.step.Commands = append(w.step.Commands, c.String())
	return w.cli.runJSON(c, want, v)
}

// read shows command c and runs it until ok accepts the JSON output it
// decoded into v: a read answered by another node than the write before it
// may be a moment behind. It returns how long that took.
func (w *world) read(ctx context.Context, c command, v any, ok func() bool) (time.Duration, error) {
	w.say.command(c)
	w.step.Commands = append(w.step.Commands, c.String())
	start := time.Now()
	err := poll(ctx, func() (bool, error) {
		if _, err := w.cli.runJSON(c, 0, v); err != nil {
			return false, err
		}
		return ok(), nil
	})
	return time.Since(start), err
}

// aside shows what a user does outside tocsin.
func (w *world) aside(format string, v ...any) {
	s := fmt.Sprintf(format, v...)
	w.say.aside(s)
	w.step.Commands = append(w.step.Commands, "# "+s)
}

// readers are the members that run an agent (every role but admin).
func (w *world) readers() []*tocsinv1.Member {
	var out []*tocsinv1.Member
	for _, m := range w.cast {
		if len(agentConsumers(m)) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// inSectors are the ids of the readers in any of sectors.
func (w *world) inSectors(sectors ...string) []string {
	var out []string
	for _, m := range w.readers() {
		if slices.ContainsFunc(m.GetSectors(), func(s string) bool { return slices.Contains(sectors, s) }) {
			out = append(out, m.GetId())
		}
	}
	return out
}

// others are the readers not in ids.
func (w *world) others(ids []string) []string {
	var out []string
	for _, m := range w.readers() {
		if !slices.Contains(ids, m.GetId()) {
			out = append(out, m.GetId())
		}
	}
	return out
}

// online are those of ids whose agent runs.
func (w *world) online(ids []string) []string {
	var out []string
	for _, id := range ids {
		if w.fleet.isRunning(id) {
			out = append(out, id)
		}
	}
	return out
}

// offline are those of ids whose agent does not run.
func (w *world) offline(ids []string) []string {
	return slices.DeleteFunc(slices.Clone(ids), w.fleet.isRunning)
}

// sectors are every sector of the vocabulary.
func (w *world) sectors() []string { return members.DefaultVocabulary().Sectors }

// member returns the cast member id.
func (w *world) member(id string) *tocsinv1.Member {
	for _, m := range w.cast {
		if m.GetId() == id {
			return m
		}
	}
	return nil
}
