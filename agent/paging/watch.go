package paging

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Watcher is a channel that can say whether a person acknowledged or
// resolved a page there (PagerDuty, with an API token).
type Watcher interface {
	Channel
	// Status reports what became of p at the channel; by names who
	// acknowledged, when it says.
	Status(ctx context.Context, p Page) (acked, resolved bool, by string, err error)
}

// DefaultWatchEvery is how often pages are looked up at their watchers.
const DefaultWatchEvery = 30 * time.Second

// OnSettled registers f, told each time a page is acknowledged or
// resolved at a channel (not through Acknowledge or Resolve): the agent
// sends the member's receipt with it, for the page's message m. Call it
// before Run.
func (p *Pager) OnSettled(f func(m Message, by string, resolved bool)) { p.onSettled = f }

// watch looks up the open pages at the watchers that were paged, every
// WatchEvery, until ctx ends.
func (p *Pager) watch(ctx context.Context) {
	every := p.opts.WatchEvery
	if every <= 0 {
		every = DefaultWatchEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, w := range p.watchable() {
			cctx, cancel := context.WithTimeout(ctx, sendTimeout)
			acked, resolved, by, err := w.watcher.Status(cctx, w.page)
			cancel()
			switch {
			case err != nil:
				p.log.Debug("watch", zap.String("id", w.page.Message.ID), zap.Error(err))
				continue
			case resolved:
				if ok, _ := p.Resolve(w.page.Message.ID); ok && p.onSettled != nil {
					p.onSettled(w.page.Message, by, true)
				}
			case acked:
				if ok, _ := p.Acknowledge(w.page.Message.ID, by); ok && p.onSettled != nil {
					p.onSettled(w.page.Message, by, false)
				}
			}
		}
	}
}

type watched struct {
	watcher Watcher
	page    Page
}

// watchable is each open, unacknowledged page with a step sent on a
// watcher.
func (p *Pager) watchable() []watched {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []watched
	for _, pg := range p.pages {
		if !pg.Done.IsZero() || !pg.Acked.IsZero() {
			continue
		}
		for i, s := range pg.Steps {
			w, ok := p.channels[s.Channel].(Watcher)
			if ok && !s.Sent.IsZero() {
				out = append(out, watched{w, Page{Message: pg.Message, Step: i + 1}})
				break
			}
		}
	}
	return out
}
