package paging

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
)

// sendTimeout bounds one call to a channel.
const sendTimeout = 30 * time.Second

// maxParallel bounds the channel calls under way at once.
const maxParallel = 8

// job is one call to a channel for one step of one page.
type job struct {
	id   string
	step int
	op   string // "trigger", "acknowledge" or "resolve"
	page Page
}

// Run sends the pages' steps, acknowledgements and resolutions until ctx
// ends. Each step fires within a few milliseconds of its deadline.
func (p *Pager) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxParallel)
	wg.Go(func() { p.watch(ctx) })
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next := p.dispatch(ctx, &wg, sem)
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		case <-timer.C:
		}
	}
}

// dispatch starts the calls that are due and returns the next deadline.
func (p *Pager) dispatch(ctx context.Context, wg *sync.WaitGroup, sem chan struct{}) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for id, pg := range p.pages {
		if !pg.Done.IsZero() || p.sending[id] {
			continue
		}
		j, at, done := p.work(pg, now)
		switch {
		case done:
			pg.Done = now
			if err := p.store.save(pg); err != nil {
				p.log.Warn("page", zap.String("id", id), zap.Error(err))
			}
		case j != nil:
			p.sending[id] = true
			wg.Go(func() {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					p.finish(*j, ctx.Err(), true)
					return
				}
				defer func() { <-sem }()
				p.call(ctx, *j)
			})
		case !at.IsZero():
			later(at)
		}
	}
	return next
}

// work is what pg needs next: a call to make now, or the time it is due,
// or done when nothing more will ever be sent for it.
func (p *Pager) work(pg *page, now time.Time) (j *job, at time.Time, done bool) {
	mk := func(i int, op string) *job {
		summary, details := pg.Message.Text(p.opts.Policy.Body)
		return &job{id: pg.Message.ID, step: i, op: op,
			page: Page{Message: pg.Message, Step: i + 1, Summary: summary, Details: details, By: pg.By}}
	}
	if !pg.Acked.IsZero() {
		pending := false
		for i, s := range pg.Steps {
			op := ""
			switch {
			case s.Sent.IsZero():
				continue
			case !pg.Resolved.IsZero() && !s.ResolveSent:
				op = "resolve"
			case pg.Resolved.IsZero() && !s.AckSent:
				op = "acknowledge"
			default:
				continue
			}
			pending = true
			if !s.NextTry.After(now) {
				return mk(i, op), time.Time{}, false
			}
			if at.IsZero() || s.NextTry.Before(at) {
				at = s.NextTry
			}
		}
		// Acknowledged (or resolved) and passed on: done. A resolution
		// that comes later opens it again to pass that on.
		return nil, at, !pending
	}
	// A step that keeps failing is sent again on its own schedule; the
	// next step's delay runs from the failing step's first attempt, so an
	// e-mail server that is down never keeps the backup from being paged.
	for i, s := range pg.Steps {
		if !s.Sent.IsZero() || s.Failed != "" || s.Due.IsZero() {
			continue
		}
		due := s.Due
		if s.NextTry.After(due) {
			due = s.NextTry
		}
		if !due.After(now) {
			return mk(i, "trigger"), time.Time{}, false
		}
		if at.IsZero() || due.Before(at) {
			at = due
		}
	}
	if !at.IsZero() {
		return nil, at, false
	}
	return nil, time.Time{}, false // every step taken: waits for an acknowledgement
}

// call makes one channel call and records its result.
func (p *Pager) call(ctx context.Context, j job) {
	p.mu.Lock()
	c := p.channels[p.pages[j.id].Steps[j.step].Channel]
	p.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	var err error
	switch j.op {
	case "trigger":
		err = c.Trigger(cctx, j.page)
	case "acknowledge":
		err = c.Acknowledge(cctx, j.page)
	case "resolve":
		err = c.Resolve(cctx, j.page)
	}
	p.finish(j, err, ctx.Err() != nil)
}

// finish records a call's result; stopping says the pager is stopping
// (the call is not counted as a failure).
func (p *Pager) finish(j job, err error, stopping bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.poke()
	delete(p.sending, j.id)
	if stopping && err != nil {
		return
	}
	pg := p.pages[j.id]
	s := &pg.Steps[j.step]
	now := time.Now()
	log := p.log.With(zap.String("id", j.id), zap.Int("step", j.step+1), zap.String("channel", s.Channel), zap.String("op", j.op))
	switch {
	case err == nil:
		s.Attempts, s.NextTry = 0, time.Time{}
		switch j.op {
		case "trigger":
			s.Sent = now
			if j.step+1 < len(pg.Steps) && pg.Steps[j.step+1].Due.IsZero() {
				pg.Steps[j.step+1].Due = now.Add(pg.Steps[j.step+1].After)
			}
			log.Info("paged")
		case "acknowledge":
			s.AckSent = true
		case "resolve":
			s.AckSent, s.ResolveSent = true, true
		}
	case errors.Is(err, ErrPermanent):
		log.Warn("the channel refused for good", zap.Error(err))
		switch j.op {
		case "trigger":
			s.Failed = err.Error()
			if j.step+1 < len(pg.Steps) {
				pg.Steps[j.step+1].Due = now
			}
		case "acknowledge":
			s.AckSent = true
		case "resolve":
			s.AckSent, s.ResolveSent = true, true
		}
	default:
		s.Attempts++
		if j.op == "trigger" && s.Attempts == 1 && j.step+1 < len(pg.Steps) && pg.Steps[j.step+1].Due.IsZero() {
			pg.Steps[j.step+1].Due = now.Add(pg.Steps[j.step+1].After)
		}
		wait := min(p.opts.Retry<<min(s.Attempts-1, 16), time.Minute)
		s.NextTry = now.Add(wait)
		log.Warn("the channel failed; sending again", zap.Int("attempt", s.Attempts), zap.Duration("in", wait), zap.Error(err))
	}
	if err := p.store.save(pg); err != nil {
		log.Warn("page", zap.Error(err))
	}
}
