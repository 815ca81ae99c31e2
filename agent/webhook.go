package agent

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Webhook headers.
const (
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256 of the body
	// with the configured secret.
	HeaderSignature = "Tocsin-Signature"
	// HeaderMessageID is the message id: an idempotency key for the
	// receiver (a POST whose success was not recorded before a crash is
	// sent again).
	HeaderMessageID = "Tocsin-Message-Id"
)

// WebhookOptions configures a webhook sink.
type WebhookOptions struct {
	// URL receives one POST per message. Required (http or https).
	URL string
	// Secret keys the HMAC-SHA256 signature of every body. Required.
	Secret []byte
	// Format is "json" (the Record, as in the JSONL file; the default) or
	// "stix" (only the STIX bundle; messages without one are not posted).
	Format string
	// SpoolDir holds the queue of bodies still to post, the ids already
	// queued and the dead-letter file. Required.
	SpoolDir string
	// MaxAttempts is how many times a body is posted before it goes to the
	// dead-letter file. Default 8.
	MaxAttempts int
	// MinBackoff is the wait after the first failure; it doubles after each
	// one, up to MaxBackoff. Defaults 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds each POST. Default 10s.
	Timeout time.Duration
	// Client sends the POSTs. Default: an http.Client with Timeout.
	Client *http.Client
}

// Webhook is a sink that POSTs each record to a URL. Write only queues
// the body in a durable spool (fsync) and returns: a slow or failing
// receiver never holds the other sinks back. A background sender posts
// the spool in order, each body signed, retrying with exponential backoff;
// a body that fails MaxAttempts times goes to the dead-letter file
// (DeadLetterPath) and the sender moves on. A message id is queued once.
type Webhook struct {
	opts  WebhookOptions
	log   *zap.Logger
	spool *spool

	delivered, deadLettered atomic.Int64
	stop                    context.CancelFunc
	done                    chan struct{}
}

// OpenWebhook opens the spool and starts the sender.
func OpenWebhook(opts WebhookOptions, log *zap.Logger) (*Webhook, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if _, err := ParseSinkSpec("webhook:" + opts.URL); err != nil {
		return nil, err
	}
	switch {
	case len(opts.Secret) == 0:
		return nil, fmt.Errorf("%w: webhook %s: a secret is required to sign the bodies (--webhook-secret-file)", ErrSinkSpec, opts.URL)
	case opts.SpoolDir == "":
		return nil, fmt.Errorf("%w: webhook %s: a spool directory is required", ErrSinkSpec, opts.URL)
	case opts.Format != "" && opts.Format != "json" && opts.Format != "stix":
		return nil, fmt.Errorf("%w: webhook format %q: use json or stix", ErrSinkSpec, opts.Format)
	case opts.MaxAttempts < 0 || opts.MinBackoff < 0 || opts.MaxBackoff < 0 || opts.Timeout < 0:
		return nil, fmt.Errorf("%w: webhook %s: attempts, backoffs and timeout cannot be negative; use 0 for the defaults", ErrSinkSpec, opts.URL)
	}
	if opts.Format == "" {
		opts.Format = "json"
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 8
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.Timeout}
	}
	sp, err := openSpool(opts.SpoolDir, spoolName("webhook", opts.URL))
	if err != nil {
		return nil, err
	}
	w := &Webhook{opts: opts, log: log.Named("webhook").With(zap.String("url", opts.URL)), spool: sp, done: make(chan struct{})}
	ctx, stop := context.WithCancel(context.Background())
	w.stop = stop
	go w.send(ctx)
	return w, nil
}

// Name implements Sink.
func (w *Webhook) Name() string { return "webhook:" + w.opts.URL }

// DeadLetterPath is the file of bodies that failed every attempt.
func (w *Webhook) DeadLetterPath() string { return w.spool.dead }

// Write implements Sink: the new records are queued durably.
func (w *Webhook) Write(_ context.Context, recs []*Record) error {
	if err := w.spool.add(recs, w.body); err != nil {
		return fmt.Errorf("webhook sink: %w", err)
	}
	return nil
}

// body is what is posted for r; nil when nothing is (stix format, no bundle).
func (w *Webhook) body(r *Record) ([]byte, error) {
	if w.opts.Format == "stix" {
		if len(r.STIX) == 0 {
			return nil, nil
		}
		return r.STIX, nil
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("webhook sink: encode %s: %w", r.ID, err)
	}
	return data, nil
}

// Sign returns the signature header value of body with secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// send posts the spool in order until ctx ends.
func (w *Webhook) send(ctx context.Context) {
	defer close(w.done)
	for {
		items, next, err := w.spool.q.peek(1)
		if err != nil {
			w.log.Error("cannot read the webhook spool", zap.Error(err))
		}
		if len(items) == 0 {
			select {
			case <-w.spool.q.wait():
				continue
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		id, body := splitItem(items[0])
		attempts, err := w.post(ctx, id, body)
		if ctx.Err() != nil {
			return // not handled: posted again at the next start
		}
		if err != nil {
			if derr := w.spool.deadLetter(id, w.opts.URL, attempts, body, err); derr != nil {
				w.log.Error("cannot write the dead-letter file; retrying", zap.Error(derr))
				continue
			}
			w.deadLettered.Add(1)
			w.log.Error("webhook gave up on a message: in the dead-letter file", zap.String("id", id),
				zap.Int("attempts", attempts), zap.String("dead_letter", w.spool.dead), zap.Error(err))
		} else {
			w.delivered.Add(1)
		}
		if err := w.spool.q.advance(next); err != nil {
			w.log.Error("cannot record webhook progress", zap.Error(err))
		}
	}
}

// post sends body, retrying with exponential backoff, and returns the
// attempts made and the last failure.
func (w *Webhook) post(ctx context.Context, id string, body []byte) (int, error) {
	wait := w.opts.MinBackoff
	var err error
	for attempt := 1; ; attempt++ {
		if err = w.postOnce(ctx, id, body); err == nil {
			return attempt, nil
		}
		if attempt >= w.opts.MaxAttempts {
			return attempt, err
		}
		w.log.Warn("webhook post failed; will retry", zap.String("id", id), zap.Int("attempt", attempt), zap.Duration("in", wait), zap.Error(err))
		select {
		case <-ctx.Done():
			return attempt, ctx.Err()
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		}
		wait = min(2*wait, w.opts.MaxBackoff)
	}
}

func (w *Webhook) postOnce(ctx context.Context, id string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.opts.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if w.opts.Format == "stix" {
		req.Header.Set("Content-Type", "application/stix+json;version=2.1")
	}
	req.Header.Set(HeaderSignature, Sign(w.opts.Secret, body))
	req.Header.Set(HeaderMessageID, id)
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", w.opts.URL, resp.Status)
	}
	return nil
}

// Stats returns how many bodies were delivered and dead-lettered since the
// sink opened, and the bytes still queued.
func (w *Webhook) Stats() (delivered, deadLettered, queuedBytes int64) {
	return w.delivered.Load(), w.deadLettered.Load(), w.spool.q.pending()
}

// Close stops the sender (a body being posted is posted again at the next
// start) and closes the files.
func (w *Webhook) Close() error {
	w.stop()
	<-w.done
	return w.spool.close()
}
