package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
	spool *queue
	dead  string

	mu      sync.Mutex
	ids     map[string]struct{}
	idsFile *os.File

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
	if err := os.MkdirAll(opts.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("webhook sink: %w", err)
	}
	sum := sha256.Sum256([]byte(opts.URL))
	name := "webhook-" + hex.EncodeToString(sum[:4])
	w := &Webhook{opts: opts, log: log.Named("webhook").With(zap.String("url", opts.URL)), ids: map[string]struct{}{},
		dead: filepath.Join(opts.SpoolDir, name+".dead.jsonl"), done: make(chan struct{})}
	if err := w.open(name); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	w.stop = stop
	go w.send(ctx)
	return w, nil
}

// open loads the ids already queued: those of the ids file (queued before
// the spool was last compacted) and of every frame still in the spool.
func (w *Webhook) open(name string) error {
	idsPath := filepath.Join(w.opts.SpoolDir, name+".ids")
	data, err := os.ReadFile(idsPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("webhook sink: %w", err)
	}
	for _, id := range strings.Split(string(data), "\n") {
		if id != "" {
			w.ids[id] = struct{}{}
		}
	}
	if w.idsFile, err = os.OpenFile(idsPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return fmt.Errorf("webhook sink: %w", err)
	}
	if w.spool, err = openQueue(w.opts.SpoolDir, name, true); err != nil {
		w.idsFile.Close()
		return err
	}
	// The ids file is written without fsync; before the spool drops frames
	// it must hold their ids durably.
	w.spool.beforeCompact = w.idsFile.Sync
	items, _, err := w.spool.peekFrom(0, -1)
	if err != nil {
		return err
	}
	for _, it := range items {
		id, _, _ := bytes.Cut(it, []byte{'\n'})
		w.ids[string(id)] = struct{}{}
	}
	return nil
}

// Name implements Sink.
func (w *Webhook) Name() string { return "webhook:" + w.opts.URL }

// DeadLetterPath is the file of bodies that failed every attempt.
func (w *Webhook) DeadLetterPath() string { return w.dead }

// Write implements Sink: the new records are queued durably.
func (w *Webhook) Write(_ context.Context, recs []*Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var items [][]byte
	var ids bytes.Buffer
	var added []string
	for _, r := range recs {
		if _, ok := w.ids[r.ID]; ok || slices.Contains(added, r.ID) {
			continue
		}
		body, err := w.body(r)
		if err != nil {
			return err
		}
		if body == nil {
			continue
		}
		items = append(items, append([]byte(r.ID+"\n"), body...))
		ids.WriteString(r.ID + "\n")
		added = append(added, r.ID)
	}
	if len(items) == 0 {
		return nil
	}
	if err := w.spool.append(items...); err != nil {
		return fmt.Errorf("webhook sink: %w", err)
	}
	if _, err := w.idsFile.Write(ids.Bytes()); err != nil {
		return fmt.Errorf("webhook sink: %w", err)
	}
	for _, id := range added {
		w.ids[id] = struct{}{}
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
		items, next, err := w.spool.peek(1)
		if err != nil {
			w.log.Error("cannot read the webhook spool", zap.Error(err))
		}
		if len(items) == 0 {
			select {
			case <-w.spool.wait():
				continue
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		id, body, _ := bytes.Cut(items[0], []byte{'\n'})
		attempts, err := w.post(ctx, string(id), body)
		if ctx.Err() != nil {
			return // not handled: posted again at the next start
		}
		if err != nil {
			if derr := w.deadLetter(string(id), body, attempts, err); derr != nil {
				w.log.Error("cannot write the dead-letter file; retrying", zap.Error(derr))
				continue
			}
			w.deadLettered.Add(1)
			w.log.Error("webhook gave up on a message: in the dead-letter file", zap.String("id", string(id)),
				zap.Int("attempts", attempts), zap.String("dead_letter", w.dead), zap.Error(err))
		} else {
			w.delivered.Add(1)
		}
		if err := w.spool.advance(next); err != nil {
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

// deadLetter appends a body that failed every attempt to the dead-letter
// file, durably.
func (w *Webhook) deadLetter(id string, body []byte, attempts int, cause error) error {
	line, err := json.Marshal(struct {
		ID       string          `json:"id"`
		URL      string          `json:"url"`
		Attempts int             `json:"attempts"`
		Error    string          `json:"error"`
		Time     time.Time       `json:"time"`
		Body     json.RawMessage `json:"body"`
	}{id, w.opts.URL, attempts, cause.Error(), time.Now().UTC(), body})
	if err != nil {
		return err
	}
	f, err := os.OpenFile(w.dead, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	bw.Write(line)
	bw.WriteByte('\n')
	err = bw.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Stats returns how many bodies were delivered and dead-lettered since the
// sink opened, and the bytes still queued.
func (w *Webhook) Stats() (delivered, deadLettered, queuedBytes int64) {
	return w.delivered.Load(), w.deadLettered.Load(), w.spool.pending()
}

// Close stops the sender (a body being posted is posted again at the next
// start) and closes the files.
func (w *Webhook) Close() error {
	w.stop()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.idsFile.Sync()
	if cerr := w.idsFile.Close(); err == nil {
		err = cerr
	}
	if cerr := w.spool.close(); err == nil {
		err = cerr
	}
	return err
}
