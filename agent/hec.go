package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/tocsin-project/tocsin/internal/ids"
)

// HEC headers and paths (Splunk's HTTP Event Collector).
const (
	// HECChannelHeader names the channel whose acknowledgements a client
	// polls; sent when indexer acknowledgement is on.
	HECChannelHeader = "X-Splunk-Request-Channel"
	// HECEventPath receives the events; HECAckPath answers which were indexed.
	HECEventPath = "/services/collector/event"
	HECAckPath   = "/services/collector/ack"
)

// HECOptions configures a Splunk HTTP Event Collector sink.
type HECOptions struct {
	// URL is the collector: its base (https://splunk.example:8088), to
	// which HECEventPath is added, or its event endpoint. Required (http or
	// https).
	URL string
	// Token is the HEC token, sent as "Authorization: Splunk TOKEN". Required.
	Token string
	// Ack turns on indexer acknowledgement: every POST carries the
	// X-Splunk-Request-Channel header, and a batch counts delivered only
	// once /services/collector/ack says it was indexed. Turn it on when the
	// token has it on. Default off: a 200 answer counts delivered.
	Ack bool
	// Index is the index of every event. Default: the token's default.
	Index string
	// Source and SourceType of every event. Defaults "tocsin" and "tocsin:record".
	Source, SourceType string
	// Host of every event. Default os.Hostname().
	Host string
	// SpoolDir holds the queue of events still to send and the dead-letter
	// file. Required.
	SpoolDir string
	// Batch is the most events one POST carries. Default 100.
	Batch int
	// AckPoll is how often acknowledgements are polled; AckTimeout how long
	// a batch waits for its acknowledgement before it is sent again.
	// Defaults 1s and 2m.
	AckPoll, AckTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failure; it doubles
	// after each. Defaults 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds each request. Default 10s.
	Timeout time.Duration
	// Client sends the requests. Default: an http.Client with Timeout.
	Client *http.Client
}

// hecEndpoints derives the event and ack URLs from a HEC sink's URL.
func hecEndpoints(raw string) (event, ack string, err error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("%w hec:%s: the collector URL must be http:// or https:// with a host and no query (use --hec-index)", ErrSinkSpec, raw)
	}
	base := strings.TrimSuffix(u.Path, "/")
	switch {
	case base == "":
	case strings.HasSuffix(base, HECEventPath):
		base = strings.TrimSuffix(base, HECEventPath)
	default:
		return "", "", fmt.Errorf("%w hec:%s: give the collector's base URL or its %s endpoint", ErrSinkSpec, raw, HECEventPath)
	}
	u.Path = base + HECEventPath
	event = u.String()
	u.Path = base + HECAckPath
	return event, u.String(), nil
}

// HEC is a sink that sends each record, as the event of a HEC event, to
// Splunk's HTTP Event Collector. Write only queues the events in a durable
// spool (fsync) and returns; a background sender POSTs them in order,
// batched, retrying with backoff until the collector takes them (and,
// with Ack, says they were indexed). An event the collector refuses for
// good (a 400 for its data, a 413 alone) goes to the dead-letter file; a
// refused token or index is retried, the log saying what to fix.
type HEC struct {
	opts       HECOptions
	event, ack string
	channel    string
	log        *zap.Logger
	spool      *spool

	delivered, deadLettered atomic.Int64
	stop                    context.CancelFunc
	done                    chan struct{}
}

// OpenHEC opens the spool and starts the sender.
func OpenHEC(opts HECOptions, log *zap.Logger) (*HEC, error) {
	if log == nil {
		log = zap.NewNop()
	}
	event, ack, err := hecEndpoints(opts.URL)
	if err != nil {
		return nil, err
	}
	switch {
	case opts.Token == "" || strings.ContainsAny(opts.Token, " \t\r\n"):
		return nil, fmt.Errorf("%w: hec %s: a token without spaces is required (--hec-token-file)", ErrSinkSpec, opts.URL)
	case opts.Batch < 0 || opts.AckPoll < 0 || opts.AckTimeout < 0 || opts.MinBackoff < 0 || opts.MaxBackoff < 0 || opts.Timeout < 0:
		return nil, fmt.Errorf("%w: hec %s: batch, waits and timeout cannot be negative; use 0 for the defaults", ErrSinkSpec, opts.URL)
	}
	if opts.Batch == 0 {
		opts.Batch = 100
	}
	opts.AckPoll = cmpOr(opts.AckPoll, time.Second)
	opts.AckTimeout = cmpOr(opts.AckTimeout, 2*time.Minute)
	opts.MinBackoff = cmpOr(opts.MinBackoff, 500*time.Millisecond)
	opts.MaxBackoff = cmpOr(opts.MaxBackoff, 30*time.Second)
	opts.Timeout = cmpOr(opts.Timeout, 10*time.Second)
	if opts.Source == "" {
		opts.Source = "tocsin"
	}
	if opts.SourceType == "" {
		opts.SourceType = "tocsin:record"
	}
	if opts.Host == "" {
		opts.Host, _ = os.Hostname()
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.Timeout}
	}
	sp, err := openSpool(opts.SpoolDir, spoolName("hec", event))
	if err != nil {
		return nil, err
	}
	h := &HEC{opts: opts, event: event, ack: ack, channel: ids.V4(), log: log.Named("hec").With(zap.String("url", event)),
		spool: sp, done: make(chan struct{})}
	ctx, stop := context.WithCancel(context.Background())
	h.stop = stop
	go h.send(ctx)
	return h, nil
}

// Name implements Sink.
func (h *HEC) Name() string { return "hec:" + h.opts.URL }

// hecEvent is one event as the collector takes it.
type hecEvent struct {
	Time       json.Number     `json:"time,omitempty"`
	Host       string          `json:"host,omitempty"`
	Source     string          `json:"source"`
	SourceType string          `json:"sourcetype"`
	Index      string          `json:"index,omitempty"`
	Event      json.RawMessage `json:"event"`
}

// body is r's HEC event: the record, timed when the cluster routed it.
func (h *HEC) body(r *Record) ([]byte, error) {
	rec, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	e := hecEvent{Host: h.opts.Host, Source: h.opts.Source, SourceType: h.opts.SourceType, Index: h.opts.Index, Event: rec}
	if !r.Routed.IsZero() {
		e.Time = json.Number(strconv.FormatFloat(float64(r.Routed.UnixMilli())/1000, 'f', 3, 64))
	}
	return json.Marshal(e)
}

// Write implements Sink: the new records' events are queued durably.
func (h *HEC) Write(_ context.Context, recs []*Record) error {
	if err := h.spool.add(recs, h.body); err != nil {
		return fmt.Errorf("hec sink: %w", err)
	}
	return nil
}

// Stats returns how many events were delivered and dead-lettered since
// the sink opened, and the bytes still queued.
func (h *HEC) Stats() (delivered, deadLettered, queuedBytes int64) {
	return h.delivered.Load(), h.deadLettered.Load(), h.spool.q.pending()
}

// DeadLetterPath is the file of events the collector refused for good.
func (h *HEC) DeadLetterPath() string { return h.spool.dead }

// errRefused is wrapped by a collector's answer that sending the same
// events again cannot change.
var errRefused = errors.New("refused for good")

// hecInFlight is the most batches posted and still awaiting their
// acknowledgement: polling lags indexing by up to AckPoll, so one batch
// at a time would cap a catch-up at Batch events per poll.
const hecInFlight = 16

// flight is a batch posted (or dead-lettered), in spool order.
type flight struct {
	events int
	next   int64 // the spool offset after it
	ackID  int64
	acked  bool // indexed, acknowledgement off, or dead-lettered
	dead   bool
	sent   time.Time
}

// send posts the spool in order until ctx ends: up to hecInFlight batches
// await their acknowledgements at once, and the spool advances past a
// batch only when it and every batch before it are acknowledged.
func (h *HEC) send(ctx context.Context) {
	defer close(h.done)
	b := backoff{min: h.opts.MinBackoff, max: h.opts.MaxBackoff}
	singles := 0 // after a batch refused for good, its events go one by one
	var flights []flight
	_, off, _ := h.spool.q.peek(0)
	var polled time.Time
	for ctx.Err() == nil {
		posted := false
		if len(flights) < hecInFlight {
			n := h.opts.Batch
			if singles > 0 {
				n = 1
			}
			items, next, err := h.spool.q.peekFrom(off, n)
			if err != nil {
				h.log.Error("cannot read the HEC spool", zap.Error(err))
			}
			if len(items) > 0 {
				f, err := h.post(ctx, items)
				f.next = next
				switch {
				case ctx.Err() != nil:
					return // not advanced: sent again at the next start
				case errors.Is(err, errRefused) && len(items) > 1:
					singles = len(items)
					continue
				case errors.Is(err, errRefused):
					id, body := splitItem(items[0])
					if derr := h.spool.deadLetter(id, h.event, 1, body, err); derr != nil {
						h.log.Error("cannot write the dead-letter file; retrying", zap.Error(derr))
						b.wait(ctx)
						continue
					}
					h.log.Error("the collector refused an event: in the dead-letter file", zap.String("id", id),
						zap.String("dead_letter", h.spool.dead), zap.Error(err))
					f = flight{next: next, acked: true, dead: true}
				case err != nil:
					h.log.Warn("HEC delivery failed; the events stay queued and are sent again", zap.Int("events", len(items)), zap.Error(err))
					b.wait(ctx)
					continue
				}
				singles = max(0, singles-1)
				b.reset()
				flights = append(flights, f)
				off, posted = next, true
			}
		}
		if len(flights) > 0 && !flights[0].acked && (!posted || len(flights) == hecInFlight) && time.Since(polled) >= h.opts.AckPoll {
			h.pollAcks(ctx, flights)
			polled = time.Now()
		}
		for len(flights) > 0 && flights[0].acked {
			if err := h.spool.q.advance(flights[0].next); err != nil {
				h.log.Error("cannot record HEC progress", zap.Error(err))
			}
			if flights[0].dead {
				h.deadLettered.Add(1)
			} else {
				h.delivered.Add(int64(flights[0].events))
			}
			flights = flights[1:]
		}
		if len(flights) > 0 && time.Since(flights[0].sent) > h.opts.AckTimeout {
			h.log.Warn("the collector did not acknowledge a batch in time; sending it and those after it again",
				zap.Int64("ack_id", flights[0].ackID), zap.String("channel", h.channel), zap.Duration("ack_timeout", h.opts.AckTimeout))
			flights = nil
			_, off, _ = h.spool.q.peek(0)
			continue
		}
		if posted {
			continue
		}
		wait := time.Second
		if len(flights) > 0 {
			wait = max(0, h.opts.AckPoll-time.Since(polled))
		}
		if !idle(ctx, h.spool.q, wait) {
			return
		}
	}
}

// hecAnswer is the collector's JSON answer.
type hecAnswer struct {
	Text  string `json:"text"`
	Code  int    `json:"code"`
	AckID *int64 `json:"ackId"`
	// Acks answers an ack poll: ack id to indexed.
	Acks map[string]bool `json:"acks"`
}

// post sends items as one batch: acked at once without acknowledgement,
// else awaiting its ack id.
func (h *HEC) post(ctx context.Context, items [][]byte) (flight, error) {
	var body bytes.Buffer
	for _, it := range items {
		_, b := splitItem(it)
		body.Write(b)
	}
	f := flight{events: len(items), sent: time.Now(), acked: true}
	ans, err := h.request(ctx, h.event, body.Bytes())
	if err != nil || !h.opts.Ack {
		return f, err
	}
	if ans.AckID == nil {
		h.log.Warn("the collector gave no ackId: indexer acknowledgement is off for this token, so a 200 counts delivered; drop --hec-ack or turn it on for the token")
		return f, nil
	}
	f.ackID, f.acked = *ans.AckID, false
	return f, nil
}

// pollAcks asks the ack endpoint about every batch still unacknowledged
// and marks those indexed. A failed poll is tried again at the next.
func (h *HEC) pollAcks(ctx context.Context, flights []flight) {
	var ids []int64
	for _, f := range flights {
		if !f.acked {
			ids = append(ids, f.ackID)
		}
	}
	poll, _ := json.Marshal(map[string][]int64{"acks": ids})
	ans, err := h.request(ctx, h.ack, poll)
	if err != nil {
		h.log.Warn("HEC ack poll failed; polling again", zap.Error(err))
		return
	}
	for i := range flights {
		if !flights[i].acked && ans.Acks[strconv.FormatInt(flights[i].ackID, 10)] {
			flights[i].acked = true
		}
	}
}

// request POSTs body to endpoint with the token (and the channel, with
// Ack) and reads the collector's answer; an answer that resending cannot
// change wraps errRefused.
func (h *HEC) request(ctx context.Context, endpoint string, body []byte) (hecAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return hecAnswer{}, err
	}
	req.Header.Set("Authorization", "Splunk "+h.opts.Token)
	req.Header.Set("Content-Type", "application/json")
	if h.opts.Ack {
		req.Header.Set(HECChannelHeader, h.channel)
	}
	resp, err := h.opts.Client.Do(req)
	if err != nil {
		return hecAnswer{}, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ans hecAnswer
	jerr := json.Unmarshal(data, &ans)
	if resp.StatusCode == http.StatusOK && jerr == nil && ans.Code == 0 {
		return ans, nil
	}
	what := fmt.Sprintf("%s answered %s: %s", endpoint, resp.Status, strings.TrimSpace(string(data)))
	switch {
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		return ans, fmt.Errorf("%w: %s", errRefused, what)
	case resp.StatusCode == http.StatusBadRequest && jerr == nil:
		switch ans.Code {
		case 5, 6, 12, 13, 15: // no data, invalid data format, event field required or blank, indexed fields
			return ans, fmt.Errorf("%w: %s", errRefused, what)
		case 7:
			return ans, fmt.Errorf("%s: the index does not exist or the token may not write it; fix --hec-index", what)
		case 10, 11:
			return ans, fmt.Errorf("%s: the token has indexer acknowledgement on; use --hec-ack", what)
		}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return ans, fmt.Errorf("%s: the token was not accepted; check --hec-token-file", what)
	}
	return ans, errors.New(what)
}

// Close stops the sender (a batch being sent is sent again at the next
// start) and closes the spool.
func (h *HEC) Close() error {
	h.stop()
	<-h.done
	return h.spool.close()
}
