package paging

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// ErrPermanent is wrapped by a Channel's error when sending again cannot
// help (the page was refused as invalid, the credentials are wrong): the
// step is given up and the next one fires at once.
var ErrPermanent = errors.New("refused for good")

// Channel is one way of reaching a person.
type Channel interface {
	// Name is how a Step names it ("pagerduty", "webhook",
	// "email:soc@example.org").
	Name() string
	// Trigger pages. It is idempotent by the page's message id.
	Trigger(ctx context.Context, p Page) error
	// Acknowledge tells the channel a person took the page.
	Acknowledge(ctx context.Context, p Page) error
	// Resolve tells the channel the page needs no one any more.
	Resolve(ctx context.Context, p Page) error
}

// Page is what a channel is given: the message, the step, and what the
// page may say of the message under the policy.
type Page struct {
	Message Message
	// Step is the step's number, from 1.
	Step int
	// Summary and Details are what the page says (Message.Text).
	Summary string
	Details map[string]string
	// By is who acknowledged, for Acknowledge.
	By string
}

// Options configures a Pager.
type Options struct {
	// Dir is where pages are kept. Required; one pager per directory.
	Dir string
	// Policy says what pages, whom and when.
	Policy Policy
	// Channels are the channels the policy's steps name. Each one a step
	// names is required.
	Channels []Channel
	// Retry is the wait after a channel's first failure; it doubles on
	// each failure after that, up to a minute. Default 1s.
	Retry time.Duration
	// WatchEvery is how often open pages are looked up at the channels
	// that can say whether a person acknowledged there (Watcher). Default
	// DefaultWatchEvery (30s).
	WatchEvery time.Duration
	// Log receives the pager's events. Default zap.NewNop().
	Log *zap.Logger
}

// Pager runs the escalation of the pages it was given.
type Pager struct {
	opts     Options
	store    *store
	channels map[string]Channel
	log      *zap.Logger

	mu    sync.Mutex
	pages map[string]*page
	wake  chan struct{}
	// sending holds the pages a send is under way for.
	sending map[string]bool
	// onSettled is told of acknowledgements made at a channel.
	onSettled func(m Message, by string, resolved bool)
}

// New checks opts, loads the pages of an earlier run and returns the
// pager; Run sends.
func New(opts Options) (*Pager, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: no state directory", ErrPolicy)
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	channels := map[string]Channel{}
	for _, c := range opts.Channels {
		channels[c.Name()] = c
	}
	policy, err := opts.Policy.withDefaults(func(name string) bool { _, ok := channels[name]; return ok })
	if err != nil {
		return nil, err
	}
	opts.Policy = policy
	st, err := openStore(opts.Dir)
	if err != nil {
		return nil, err
	}
	pages, err := st.load(time.Now())
	if err != nil {
		return nil, err
	}
	return &Pager{opts: opts, store: st, channels: channels, log: opts.Log, pages: pages,
		wake: make(chan struct{}, 1), sending: map[string]bool{}}, nil
}

// Policy is the policy in force, with its defaults.
func (p *Pager) Policy() Policy { return p.opts.Policy }

// validID keeps ids safe as file names.
func validID(id string) bool {
	return id != "" && len(id) <= 64 && strings.Trim(id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_") == ""
}

// Enqueue takes the messages that page under the policy and stores their
// pages before it returns; a message already paged is not paged again.
// It returns how many pages it took.
func (p *Pager) Enqueue(msgs []Message) (int, error) {
	now := time.Now()
	taken := 0
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		if !p.opts.Policy.Pages(m) || p.pages[m.ID] != nil {
			continue
		}
		if !validID(m.ID) {
			return taken, fmt.Errorf("paging: message id %q cannot name a page", m.ID)
		}
		pg := &page{Message: m, Created: now}
		for _, s := range p.opts.Policy.Steps {
			pg.Steps = append(pg.Steps, stepState{Channel: s.Channel, After: s.After})
		}
		pg.Steps[0].Due = now
		if err := p.store.save(pg); err != nil {
			return taken, err
		}
		p.pages[m.ID] = pg
		taken++
		p.log.Info("page taken", zap.String("id", m.ID), zap.String("lane", m.Lane), zap.Bool("exercise", m.Exercise))
	}
	if taken > 0 {
		p.poke()
	}
	return taken, nil
}

// Acknowledge records that a person took the page of message id (by, if
// known, says who): no further step fires, and every channel already paged
// is told. False when no page of id is open.
func (p *Pager) Acknowledge(id, by string) (bool, error) {
	return p.settle(id, func(pg *page, now time.Time) bool {
		if !pg.Acked.IsZero() {
			return false
		}
		pg.Acked, pg.By = now, by
		return true
	})
}

// Resolve records that the message needs no one any more (actioned,
// revoked): every channel paged is told.
func (p *Pager) Resolve(id string) (bool, error) {
	return p.settle(id, func(pg *page, now time.Time) bool {
		if !pg.Resolved.IsZero() {
			return false
		}
		pg.Resolved, pg.Done = now, time.Time{}
		if pg.Acked.IsZero() {
			pg.Acked = now
		}
		return true
	})
}

func (p *Pager) settle(id string, change func(*page, time.Time) bool) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pg := p.pages[id]
	if pg == nil || !change(pg, time.Now()) {
		return false, nil
	}
	if err := p.store.save(pg); err != nil {
		return false, err
	}
	p.poke()
	return true, nil
}

func (p *Pager) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Message is the message of the page of id, if there is one.
func (p *Pager) Message(id string) (Message, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pg := p.pages[id]; pg != nil {
		return pg.Message, true
	}
	return Message{}, false
}

// Open is how many pages still escalate or have news to pass on.
func (p *Pager) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, pg := range p.pages {
		if pg.Done.IsZero() {
			n++
		}
	}
	return n
}
