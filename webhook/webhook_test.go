package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
	"github.com/frappy-go/apibilling/webhook"
)

var secret = []byte("whsec_test")

// receiver is a local endpoint that checks signatures and counts each
// event, failing the first failFirst attempts of every event with 500.
type receiver struct {
	t         *testing.T
	failFirst int
	mu        sync.Mutex
	attempts  map[string]int
	payloads  map[string]webhook.Payload
	bad       atomic.Int32
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := webhook.Verify(secret, req.Header.Get("Apibilling-Signature"), body, time.Now(), 5*time.Minute); err != nil {
		r.bad.Add(1)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil || p.ID != req.Header.Get("Apibilling-Event") {
		r.bad.Add(1)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[p.ID]++
	if r.attempts[p.ID] <= r.failFirst {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	if _, dup := r.payloads[p.ID]; dup {
		r.t.Errorf("event %s delivered twice after success", p.ID)
	}
	r.payloads[p.ID] = p
}

func newReceiver(t *testing.T, failFirst int) (*receiver, *httptest.Server) {
	r := &receiver{t: t, failFirst: failFirst, attempts: map[string]int{}, payloads: map[string]webhook.Payload{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

// TestAlertsDeliveredOnce charges one client from 64 goroutines across the
// 50% and 100% thresholds of its day quota, with a receiver that fails the
// first two attempts of every event: each threshold arrives exactly once,
// signed, after retries; the next day's charge sends a reset.
func TestAlertsDeliveredOnce(t *testing.T) {
	rcv, srv := newReceiver(t, 2)
	s := webhook.New(srv.URL, secret, &webhook.Options{Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	b := core.New(memory.New(), core.WithClock(clock), core.WithAlerts(s.Notify,
		core.Threshold{Period: core.Day, Percent: 50}, core.Threshold{Period: core.Day, Percent: 100}))
	if err := b.SetQuotas("c1", core.Quota{Period: core.Day, Limit: core.Whole(64)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Track(t.Context(), "c1", core.Whole(1)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	now.Add(int64(24 * time.Hour))
	if _, err := b.Track(t.Context(), "c1", core.Whole(1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	got := map[string]int{}
	for id, p := range rcv.payloads {
		got[p.Type+"/"+itoa(p.Percent)]++
		if rcv.attempts[id] != 3 {
			t.Errorf("event %s: %d attempts, want 3 (two 500s, then 200)", id, rcv.attempts[id])
		}
		if p.Client != "c1" || p.Period != "day" || p.Limit.String() != "64" {
			t.Errorf("payload %+v", p)
		}
		if p.Type == "threshold" && p.Percent == 100 && p.Used.String() != "64" {
			t.Errorf("100%% alert at used %v, want 64", p.Used)
		}
	}
	if want := map[string]int{"threshold/50": 1, "threshold/100": 1, "reset/0": 1}; !equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if rcv.bad.Load() != 0 {
		t.Errorf("%d requests failed verification", rcv.bad.Load())
	}
	if st := s.Stats(); st.Delivered != 3 || st.Retried != 6 || st.Failed != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestGivesUp: an endpoint that always fails gets a bounded number of
// attempts, and Notify never blocks even when the queue is full.
func TestGivesUp(t *testing.T) {
	rcv, srv := newReceiver(t, 1<<30)
	s := webhook.New(srv.URL, secret, &webhook.Options{Attempts: 3, QueueSize: 2, Backoff: time.Millisecond})
	a := core.Alert{Client: "c", Period: core.Day, Percent: 80, Used: core.Whole(8), Limit: core.Whole(10),
		Start: time.Unix(0, 0), End: time.Unix(86400, 0), At: time.Unix(100, 0)}
	done := make(chan struct{})
	go func() {
		for i := range 100 {
			a.Percent = i + 1
			s.Notify(a) // must not block
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify blocked")
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Failed+st.Dropped != 100 || st.Delivered != 0 || st.Failed == 0 || st.Dropped == 0 {
		t.Errorf("stats %+v, want every alert failed or dropped", st)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for id, n := range rcv.attempts {
		if n != 3 {
			t.Errorf("event %s: %d attempts, want 3", id, n)
		}
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"x"}`)
	now := time.Unix(1796083200, 0)
	h := "t=1796083200,v1=" + webhook.Sign(secret, "1796083200", body)
	if err := webhook.Verify(secret, h, body, now, time.Minute); err != nil {
		t.Errorf("valid signature: %v", err)
	}
	for _, tc := range []struct {
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{h, []byte(`{"id":"y"}`), now, webhook.ErrBadSignature},
		{"t=1796083200,v1=00", body, now, webhook.ErrBadSignature},
		{"v1=" + webhook.Sign(secret, "1796083200", body), body, now, webhook.ErrBadSignature},
		{h, body, now.Add(2 * time.Minute), webhook.ErrStale},
		{"", body, now, webhook.ErrBadSignature},
	} {
		if err := webhook.Verify(secret, tc.header, tc.body, tc.now, time.Minute); err != tc.want {
			t.Errorf("Verify(%q): %v, want %v", tc.header, err, tc.want)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
