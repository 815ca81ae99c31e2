package members

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	tocsinv1 "github.com/tocsin-project/tocsin/proto/tocsin/v1"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// updateAttempts bounds how often Update retries after losing the
// compare-and-set race to another writer.
const updateAttempts = 32

// Update reads member id, applies change to the record and writes it back
// only if nobody wrote in between (compare-and-set on the revision). When
// another writer won, it reads again and calls change again on the fresh
// record, up to 32 times; then the error wraps ErrConflict. change's error
// stops the update and is returned wrapped. The changed record is validated
// and may not change the id; a change that leaves the record as it was
// writes nothing. It returns the record as stored.
func (r *Registry) Update(ctx context.Context, id string, change func(*tocsinv1.Member) error) (*tocsinv1.Member, error) {
	for attempt := range updateAttempts {
		m, rev, err := r.get(ctx, id)
		if err != nil {
			return nil, err
		}
		before := proto.CloneOf(m)
		if err := change(m); err != nil {
			return nil, fmt.Errorf("update member %q: %w", id, err)
		}
		if m.Id != id {
			return nil, quiet(ErrInvalid, "update member %q: the change set the id to %q; ids never change: add a new member instead", id, m.Id)
		}
		if proto.Equal(before, m) {
			return m, nil
		}
		if err := Validate(m, r.vocab); err != nil {
			return nil, err
		}
		data, err := encode(m)
		if err != nil {
			return nil, err
		}
		_, err = r.kv.Update(ctx, id, data, rev)
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return nil, fmt.Errorf("update member %q: %w", id, err)
		}
		r.log.Debug("member update lost the race; retrying", zap.String("member", id), zap.Int("attempt", attempt+1))
		if err := backoff(ctx, attempt); err != nil {
			return nil, fmt.Errorf("update member %q: %w", id, err)
		}
	}
	return nil, fmt.Errorf("update member %q: %w %d times; try again later", id, ErrConflict, updateAttempts)
}

// backoff waits a random time that grows with attempt (at most 50ms), or
// until ctx ends.
func backoff(ctx context.Context, attempt int) error {
	ceiling := min(time.Millisecond<<min(attempt, 6), 50*time.Millisecond)
	t := time.NewTimer(rand.N(ceiling) + time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Revoke marks member id revoked at at (now when zero): it is then refused
// everywhere, whatever the time of its messages. Revoking a revoked member
// keeps the first revocation time. It returns the record as stored.
func (r *Registry) Revoke(ctx context.Context, id string, at time.Time) (*tocsinv1.Member, error) {
	at = orNow(at)
	m, err := r.Update(ctx, id, func(m *tocsinv1.Member) error {
		if m.RevokedAt == nil {
			m.RevokedAt = timestamppb.New(at)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.log.Info("member revoked", zap.String("member", id), zap.Time("at", m.RevokedAt.AsTime()))
	return m, nil
}

// RotateKey makes newPublicKey (an NKey user public key) member id's
// current signing key from at (now when zero): the current key's validity
// ends at at, and the new key is appended, valid from at with no end. Old
// keys keep their intervals, so a backlog signed before the rotation still
// verifies. A member without keys just gets its first. A revoked member
// (ErrRevoked), a key the member already had, or a time not after the
// current key's start is refused. It returns the record as stored.
func (r *Registry) RotateKey(ctx context.Context, id, newPublicKey string, at time.Time) (*tocsinv1.Member, error) {
	if !nkeys.IsValidPublicUserKey(newPublicKey) {
		return nil, quiet(ErrInvalid, "rotate the key of member %q: %q is not an NKey user public key (\"U\" followed by 55 characters, as in a .creds file)", id, newPublicKey)
	}
	at = orNow(at)
	m, err := r.Update(ctx, id, func(m *tocsinv1.Member) error {
		if m.RevokedAt != nil {
			return fmt.Errorf("%w at %s; a revoked member gets no new key", ErrRevoked, m.RevokedAt.AsTime().Format(timeLayout))
		}
		for _, k := range m.Keys {
			if k.PublicKey == newPublicKey {
				return quiet(ErrInvalid, "key %s is already one of its keys; rotate to a freshly generated key", newPublicKey)
			}
		}
		for _, k := range m.Keys {
			if k.NotAfter != nil {
				continue
			}
			if k.NotBefore != nil && !at.After(k.NotBefore.AsTime()) {
				return quiet(ErrInvalid, "rotation time %s is not after the current key's start %s", at.Format(timeLayout), k.NotBefore.AsTime().Format(timeLayout))
			}
			k.NotAfter = timestamppb.New(at)
		}
		m.Keys = append(m.Keys, &tocsinv1.SigningKey{PublicKey: newPublicKey, NotBefore: timestamppb.New(at)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.log.Info("member key rotated", zap.String("member", id), zap.String("key", newPublicKey), zap.Time("at", at))
	return m, nil
}

// orNow returns at, or the current time when at is zero.
func orNow(at time.Time) time.Time {
	if at.IsZero() {
		return time.Now()
	}
	return at
}
