package site

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tocsin-project/tocsin/auth"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"github.com/tocsin-project/tocsin/subjects"
)

// StreamOutbox is the site's stream of what its member sends.
const StreamOutbox = "OUTBOX"

// ErrOutboxMismatch means the site found an outbox it did not create as it
// creates one: it refuses to start rather than re-create it (a re-created
// stream loses what was queued, and sources of a re-created stream stall,
// nats-io/nats-server#6206).
var ErrOutboxMismatch = errors.New("the site's outbox does not match")

// member is the registry record the site's local consumers follow: in
// its member's home region, its streams and consumers are that region's
// (SECTORS-<home>), as at the hub.
func (s *Site) member() *tocsinv1.Member {
	return &tocsinv1.Member{Id: s.id.member, Sectors: s.id.sectors, HomeRegion: s.id.home, Roles: []tocsinv1.Role{tocsinv1.Role_ROLE_MEMBER}}
}

// inStreams are the site's copies of the hub streams its member reads:
// no subjects of their own, sourced durably from the member's site
// consumers at the hub, limits retention (a work-queue source loses what
// a leaf link drops, nats-io/nats-server#3207).
func (s *Site) inStreams() []jetstream.StreamConfig {
	var out []jetstream.StreamConfig
	for _, c := range auth.SiteConsumers(s.member()) {
		out = append(out, jetstream.StreamConfig{
			Name:        c.Stream,
			Description: "the member's " + c.Stream + " at its site, sourced from the hub",
			Sources: []*jetstream.StreamSource{{
				Name:     c.Stream,
				External: &jetstream.ExternalStream{APIPrefix: "$JS." + s.opts.HubDomain + ".API"},
				Consumer: &jetstream.StreamConsumerSource{Name: c.Name, DeliverSubject: c.Deliver},
			}},
			Retention:  jetstream.LimitsPolicy,
			Discard:    jetstream.DiscardOld,
			MaxAge:     s.opts.Keep,
			Storage:    jetstream.FileStorage,
			Duplicates: 10 * time.Minute,
			Replicas:   1,
		})
	}
	return out
}

// outboxConfig is the outbox: the member's ingest subjects, limits
// retention, discard new at OutboxBytes, so that a full outbox refuses
// (the sender sees it) rather than drops.
func (s *Site) outboxConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamOutbox,
		Description: "what " + s.id.member + " sends at its site, forwarded to the hub",
		Subjects:    []string{subjects.Prefix + ".ingest.*." + s.id.member},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxBytes:    s.opts.OutboxBytes,
		MaxAge:      s.opts.Keep,
		Storage:     jetstream.FileStorage,
		Duplicates:  15 * time.Minute,
		Replicas:    1,
	}
}

// ensureStreams creates or updates the in-streams and the member's local
// consumers, and creates the outbox or checks the one there.
func (s *Site) ensureStreams(ctx context.Context) error {
	for _, cfg := range s.inStreams() {
		// Detached until the link is up and the hub's consumer starts
		// after what the stream holds (sources.go).
		if _, err := s.js.CreateOrUpdateStream(ctx, detached(cfg)); err != nil {
			return fmt.Errorf("site stream %s: %w", cfg.Name, err)
		}
	}
	if err := auth.EnsureConsumers(ctx, s.js, s.member()); err != nil {
		return fmt.Errorf("site: %w", err)
	}
	want := s.outboxConfig()
	st, err := s.js.Stream(ctx, StreamOutbox)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = s.js.CreateStream(ctx, want)
		return err
	}
	if err != nil {
		return fmt.Errorf("site outbox: %w", err)
	}
	have := st.CachedInfo().Config
	if !slices.Equal(have.Subjects, want.Subjects) || have.Retention != want.Retention || have.Discard != want.Discard || have.Storage != want.Storage {
		return fmt.Errorf("%w: %s has subjects %v, retention %v, discard %v; this site wants %v, %v, %v. It is never re-created: move the data directory aside only once its messages reached the hub",
			ErrOutboxMismatch, StreamOutbox, have.Subjects, have.Retention, have.Discard, want.Subjects, want.Retention, want.Discard)
	}
	if have.MaxBytes != want.MaxBytes || have.MaxAge != want.MaxAge {
		have.MaxBytes, have.MaxAge = want.MaxBytes, want.MaxAge
		if _, err := s.js.UpdateStream(ctx, have); err != nil {
			return fmt.Errorf("site outbox: %w", err)
		}
	}
	return nil
}
