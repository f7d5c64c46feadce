package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// Options configures a [Sender]. The zero value means the defaults.
type Options struct {
	// Client sends the requests. Default: a client with a 10 s timeout.
	Client *http.Client
	// QueueSize is how many alerts wait to be sent; more are dropped and
	// counted. Default: 1024.
	QueueSize int
	// Attempts is how often one alert is sent before it is given up.
	// Default: 6.
	Attempts int
	// Backoff is the wait before the first retry; it doubles on each
	// retry, up to MaxBackoff. Defaults: 500 ms and 30 s.
	Backoff, MaxBackoff time.Duration
	// Logger receives failed and dropped deliveries, without client IDs.
	// Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock of the signatures' timestamps. Default: time.Now.
	Now func() time.Time
}

// Stats counts a sender's deliveries.
type Stats struct {
	Delivered uint64 // accepted with a 2xx status
	Retried   uint64 // attempts that failed and were retried
	Failed    uint64 // alerts given up after every attempt
	Dropped   uint64 // alerts dropped because the queue was full or closed
}

// Sender sends alerts to one URL. It is safe for concurrent use.
type Sender struct {
	url      string
	secret   []byte
	opts     Options
	queue    chan event
	done     chan struct{}
	stop     chan struct{}
	once     sync.Once
	stopOnce sync.Once
	closed   atomic.Bool

	delivered, retried, failed, dropped atomic.Uint64
}

// event is one alert ready to send.
type event struct {
	id   string
	body []byte
}

// New returns a sender that posts alerts to url, signed with secret. It
// panics if url or secret is empty. Close it to stop its goroutine.
func New(url string, secret []byte, opts *Options) *Sender {
	if url == "" || len(secret) == 0 {
		panic("apibilling/webhook: New expects a URL and a non-empty secret")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.Attempts <= 0 {
		o.Attempts = 6
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Sender{url: url, secret: append([]byte(nil), secret...), opts: o,
		queue: make(chan event, o.QueueSize), done: make(chan struct{}), stop: make(chan struct{})}
	go s.run()
	return s
}

// Payload is the JSON body of a request.
type Payload struct {
	ID          string       `json:"id"`
	Type        string       `json:"type"` // "threshold" or "reset"
	Client      string       `json:"client"`
	Period      string       `json:"period"`
	Percent     int          `json:"percent"`
	Used        core.Credits `json:"used"`
	Limit       core.Credits `json:"limit"`
	WindowStart string       `json:"window_start"`
	WindowEnd   string       `json:"window_end"`
	At          string       `json:"at"`
}

// EventID returns the ID of an alert: the same for the same client, window
// and threshold, so that receivers can deduplicate retried deliveries.
func EventID(a core.Alert) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00%d\x00%d\x00%d\x00%t", len(a.Client), a.Client, a.Period, a.Start.UnixNano(), a.Percent, a.Reset)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Notify queues a for delivery and returns at once; pass it to
// [core.WithAlerts]. When the queue is full, or the sender is closed, the
// alert is dropped and counted.
func (s *Sender) Notify(a core.Alert) {
	if s.closed.Load() {
		s.dropped.Add(1)
		return
	}
	p := Payload{ID: EventID(a), Type: "threshold", Client: a.Client, Period: a.Period.String(), Percent: a.Percent,
		Used: a.Used, Limit: a.Limit, WindowStart: a.Start.Format(time.RFC3339), WindowEnd: a.End.Format(time.RFC3339),
		At: a.At.UTC().Format(time.RFC3339Nano)}
	if a.Reset {
		p.Type = "reset"
	}
	body, err := json.Marshal(p)
	if err != nil {
		s.dropped.Add(1)
		return
	}
	select {
	case s.queue <- event{id: p.ID, body: body}:
	default:
		s.dropped.Add(1)
		s.log().Warn("apibilling/webhook: queue full; alert dropped", slog.String("event", p.ID))
	}
}

// Stats returns the sender's counts.
func (s *Sender) Stats() Stats {
	return Stats{Delivered: s.delivered.Load(), Retried: s.retried.Load(), Failed: s.failed.Load(), Dropped: s.dropped.Load()}
}

// Close stops accepting alerts, sends those queued until ctx is done, and
// stops the sender's goroutine. Alerts not sent by then are dropped.
func (s *Sender) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.closed.Store(true)
		close(s.queue)
	})
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.stopOnce.Do(func() { close(s.stop) })
		<-s.done
		return ctx.Err()
	}
}

func (s *Sender) run() {
	defer close(s.done)
	for ev := range s.queue {
		if !s.deliver(ev) {
			select {
			case <-s.stop:
				s.dropped.Add(uint64(len(s.queue)))
				return
			default:
			}
		}
	}
}

// deliver sends ev until it is accepted or every attempt failed.
func (s *Sender) deliver(ev event) bool {
	wait := s.opts.Backoff
	for attempt := 1; ; attempt++ {
		err := s.post(ev)
		if err == nil {
			s.delivered.Add(1)
			return true
		}
		if attempt >= s.opts.Attempts {
			s.failed.Add(1)
			s.log().Error("apibilling/webhook: alert not delivered", slog.String("event", ev.id),
				slog.Int("attempts", attempt), slog.Any("error", err))
			return false
		}
		s.retried.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			s.dropped.Add(1)
			return false
		}
		wait = min(2*wait, s.opts.MaxBackoff)
	}
}

func (s *Sender) post(ev event) error {
	ts := strconv.FormatInt(s.opts.Now().Unix(), 10)
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(ev.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "apibilling-webhook/1")
	req.Header.Set("Apibilling-Event", ev.id)
	req.Header.Set("Apibilling-Signature", "t="+ts+",v1="+Sign(s.secret, ts, ev.body))
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func (s *Sender) log() *slog.Logger {
	if s.opts.Logger != nil {
		return s.opts.Logger
	}
	return slog.Default()
}

// Sign returns the hex HMAC-SHA256 of timestamp + "." + body under secret:
// the v1 value of the Apibilling-Signature header.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors of [Verify].
var (
	ErrBadSignature = errors.New("apibilling/webhook: bad signature")
	ErrStale        = errors.New("apibilling/webhook: timestamp outside the tolerance")
)

// Verify checks a request's Apibilling-Signature header against its raw
// body, in constant time, and that its timestamp is within tolerance of
// now: what a receiver does before trusting a delivery.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return ErrBadSignature
	}
	want := Sign(secret, ts, body)
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}
