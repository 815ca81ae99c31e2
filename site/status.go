package site

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/subjects"
)

// Status is what a site says of itself (`tocsin status` at the site, the
// answer on subjects.SvcSite).
type Status struct {
	// Member is the member the site belongs to.
	Member string `json:"member"`
	// Name is the site's server name.
	Name string `json:"name"`
	// Domain is the site's JetStream domain.
	Domain string `json:"domain"`
	// LinkUp says whether the leaf link to the hub is up, Since since when
	// it is in that state.
	LinkUp bool      `json:"link_up"`
	Since  time.Time `json:"since"`
	// Sources are the in-streams' sources: how far each is behind the hub.
	Sources []SourceStatus `json:"sources"`
	// OutboxMessages and OutboxBytes are the outbox's backlog: what the
	// hub has not stored yet. OutboxCap is its cap in bytes.
	OutboxMessages uint64 `json:"outbox_messages"`
	OutboxBytes    uint64 `json:"outbox_bytes"`
	OutboxCap      int64  `json:"outbox_cap"`
	// DirectoryFetched is when the site last fetched the member
	// directory, which it serves to agents during a cut from its copy on
	// disk (StreamCache, kept across restarts; zero: never).
	DirectoryFetched time.Time `json:"directory_fetched"`
	// BoardKept is when the site last kept its member's own regional
	// board, which it serves during a cut (zero: never).
	BoardKept time.Time `json:"board_kept"`
}

// SourceStatus is one in-stream's source.
type SourceStatus struct {
	// Stream is the site's stream (SECTORS, INBOX, REJECTIONS).
	Stream string `json:"stream"`
	// Messages is how many it holds.
	Messages uint64 `json:"messages"`
	// Lag is how many messages of the hub's consumer it has not got yet,
	// as last known.
	Lag uint64 `json:"lag"`
	// Active is how long ago the source last heard from the hub.
	Active time.Duration `json:"active"`
	// Error is the source's last error, if any.
	Error string `json:"error,omitempty"`
}

// Status reports the link, the sources' lag and the outbox's backlog.
func (s *Site) Status(ctx context.Context) (*Status, error) {
	up, since := s.Link()
	st := &Status{Member: s.id.member, Name: s.name, Domain: Domain(s.id.member), LinkUp: up, Since: since, OutboxCap: s.opts.OutboxBytes,
		DirectoryFetched: s.directoryFetched(ctx), BoardKept: s.boardKept(ctx)}
	for _, cfg := range s.inStreams() {
		str, err := s.js.Stream(ctx, cfg.Name)
		if err != nil {
			return nil, err
		}
		info, err := str.Info(ctx)
		if err != nil {
			return nil, err
		}
		ss := SourceStatus{Stream: cfg.Name, Messages: info.State.Msgs}
		for _, src := range info.Sources {
			ss.Lag, ss.Active = src.Lag, src.Active
			if src.Error != nil {
				ss.Error = src.Error.Error()
			}
		}
		st.Sources = append(st.Sources, ss)
	}
	out, err := s.js.Stream(ctx, StreamOutbox)
	if err != nil {
		return nil, err
	}
	info, err := out.Info(ctx)
	if err != nil {
		return nil, err
	}
	st.OutboxMessages, st.OutboxBytes = info.State.Msgs, info.State.Bytes
	return st, nil
}

// serveStatus answers subjects.SvcSite on the site's own connection.
func (s *Site) serveStatus() error {
	_, err := s.nc.Subscribe(subjects.SvcSite, func(m *nats.Msg) {
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		defer cancel()
		st, err := s.Status(ctx)
		if err != nil {
			s.log.Warn("site status", zap.Error(err))
			return
		}
		data, _ := json.Marshal(st)
		_ = m.Respond(data)
	})
	return err
}
