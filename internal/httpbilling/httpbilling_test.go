package httpbilling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

var now = time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)

func newBilling(t testing.TB, store core.Store) *core.Billing {
	t.Helper()
	b := core.New(store, core.WithClock(func() time.Time { return now }))
	if err := b.SetQuotas("c", core.Quota{Period: core.Day, Limit: 5 * core.Credit}); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{&core.QuotaExceededError{}, 429},
		{fmt.Errorf("wrapped: %w", &core.QuotaExceededError{}), 429},
		{fmt.Errorf("x: %w", core.ErrNoQuotas), 403},
		{ErrNoIdentity, 401},
		{fmt.Errorf("x: %w", ErrUnknownClient), 401},
		{fmt.Errorf("x: %w", core.ErrInvalidClient), 401},
		{&CostError{Status: 400, Detail: "d"}, 400},
		{fmt.Errorf("x: %w", &CostError{Status: 422}), 422},
		{&CostError{Status: 200}, 500},
		{&CostError{Status: 600}, 500},
		{fmt.Errorf("x: %w", core.ErrStoreUnavailable), 503},
		{fmt.Errorf("x: %w", core.ErrInvalidCost), 500},
		{errors.New("other"), 500},
	} {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			if got := StatusOf(tc.err); got != tc.want {
				t.Errorf("StatusOf(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		in, tok string
		ok      bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc", "abc", true},
		{"Bearer ", "", false},
		{"Bearer    ", "", false},
		{"Bearer", "", false},
		{"Basic abc", "", false},
		{"Bearerabc", "", false},
		{"", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			tok, ok := BearerToken(tc.in)
			if tok != tc.tok || ok != tc.ok {
				t.Errorf("BearerToken(%q) = %q, %v, want %q, %v", tc.in, tok, ok, tc.tok, tc.ok)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"l1\nl2\r\t", `"l1\nl2\r\t"`},
		{"\x00\x1f\x7f", `"\u0000\u001f\u007f"`},
		{"bad \xff utf8", `"bad \ufffd utf8"`},
		{"é ☃ \u2028", `"é ☃ \u2028"`},
	} {
		if got := string(appendJSONString(nil, tc.in)); got != tc.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzAppendJSONString checks that any detail gives valid JSON that decodes
// as encoding/json decodes its own encoding.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff\xfe", "\u2029", "</script>", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString(nil, s)
		var dec string
		if err := json.Unmarshal(got, &dec); err != nil {
			t.Fatalf("invalid JSON %s: %v", got, err)
		}
		ref, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if dec != want {
			t.Fatalf("decoded %q, want %q", dec, want)
		}
		body := AppendProblem(nil, 400, s)
		if !json.Valid(body) {
			t.Fatalf("invalid problem %s", body)
		}
	})
}

// TestAllPeriods checks the headers of a client with the most quotas and the
// largest limits: the charge's buffer holds them all.
func TestAllPeriods(t *testing.T) {
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	var qs []core.Quota
	for p := core.Period(0); p < core.MaxQuotas; p++ {
		qs = append(qs, core.Quota{Period: p, Limit: core.MaxCredits})
	}
	if err := b.SetQuotas("all", qs...); err != nil {
		t.Fatal(err)
	}
	m := NewMeter(Config{Billing: b, LimitHeader: strings.Repeat("L", 64)})
	ch := new(Charge)
	m.Charge(context.Background(), ch, "all", "", core.MaxCredits)
	if got, want := ch.NumHeaders(), 5; got != want {
		t.Fatalf("%d headers, want %d", got, want)
	}
	h := http.Header{}
	ch.SetHeaders(h)
	for i := range ch.NumHeaders() {
		name, v := ch.Header(i)
		if got := h.Values(name); len(got) != 1 || got[0] != v {
			t.Errorf("SetHeaders: %s = %q, want [%q]", name, got, v)
		}
	}
	if name, _ := ch.Header(0); name != "L"+strings.Repeat("l", 63) {
		t.Errorf("first header %q, want the configured limit header, canonical", name)
	}
	_, pol := ch.Header(3)
	if got, want := strings.Count(pol, ", ")+1, 7; got != want {
		t.Errorf("RateLimit-Policy has %d items, want %d: %s", got, want, pol)
	}
	if !strings.HasPrefix(pol, `"second";q=9007199254;w=1, "minute";q=9007199254;w=60,`) ||
		!strings.HasSuffix(pol, `"year";q=9007199254;w=31536000`) {
		t.Errorf("RateLimit-Policy = %s", pol)
	}
	if _, got := ch.Header(4); !strings.HasPrefix(got, `"second";r=0;t=1, "minute";r=0;t=60, "hour";r=0;t=3600, "day";r=0;t=3600, `) {
		t.Errorf("RateLimit = %s", got)
	}
}

type downStore struct{ core.Store }

func (downStore) Deduct(context.Context, core.Op) (core.Result, error) {
	return core.Result{}, errors.New("down")
}

func (downStore) Refund(context.Context, core.Op) error { return errors.New("down") }

type countHandler struct {
	mu sync.Mutex
	n  int
	slog.Handler
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(context.Context, slog.Record) error {
	h.mu.Lock()
	h.n++
	h.mu.Unlock()
	return nil
}

func TestStoreDown(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        Config
		status     int
		retryAfter string
		logs       int
	}{
		{"closed", Config{}, 503, "1", 0},
		{"closed rounds up", Config{StoreRetryAfter: 1500 * time.Millisecond}, 503, "2", 0},
		{"open", Config{FailOpen: true}, 0, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &countHandler{}
			tc.cfg.Billing = newBilling(t, downStore{memory.New()})
			tc.cfg.Logger = slog.New(h)
			m := NewMeter(tc.cfg)
			ch := new(Charge)
			m.Charge(context.Background(), ch, "c", "", core.Credit)
			if ch.Status != tc.status || ch.Billed {
				t.Errorf("Status, Billed = %d, %v, want %d, false", ch.Status, ch.Billed, tc.status)
			}
			if !errors.Is(ch.Err, core.ErrStoreUnavailable) {
				t.Errorf("Err = %v, want ErrStoreUnavailable", ch.Err)
			}
			var ra string
			for i := range ch.NumHeaders() {
				name, v := ch.Header(i)
				if name != "Retry-After" {
					t.Errorf("unexpected header %s", name)
				}
				ra = v
			}
			if ra != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", ra, tc.retryAfter)
			}
			if h.n != tc.logs {
				t.Errorf("%d records logged, want %d", h.n, tc.logs)
			}
		})
	}
}

func TestFinishRefunds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refund func(int) bool
		status int
		used   core.Credits
	}{
		{"default 500", nil, 500, 0},
		{"default 503", nil, 503, 0},
		{"default 404", nil, 404, core.Credit},
		{"default 200", nil, 200, core.Credit},
		{"custom 404", func(s int) bool { return s >= 400 }, 404, 0},
		{"never", func(int) bool { return false }, 500, core.Credit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBilling(t, memory.New())
			m := NewMeter(Config{Billing: b, Refund: tc.refund})
			ch := new(Charge)
			m.Charge(context.Background(), ch, "c", "", core.Credit)
			m.Finish(context.Background(), ch, tc.status)
			m.Finish(context.Background(), ch, tc.status) // at most once
			o, err := b.Status(context.Background(), "c")
			if err != nil {
				t.Fatal(err)
			}
			if got := o.Quota(0).Used; got != tc.used {
				t.Errorf("used %v, want %v", got, tc.used)
			}
		})
	}
}

func TestRefusedIsNotRefunded(t *testing.T) {
	b := newBilling(t, memory.New())
	m := NewMeter(Config{Billing: b})
	ctx := context.Background()
	if _, err := b.Track(ctx, "c", 4*core.Credit); err != nil {
		t.Fatal(err)
	}
	ch := new(Charge)
	m.Charge(ctx, ch, "c", "", 2*core.Credit)
	if ch.Status != 429 {
		t.Fatalf("Status = %d, want 429", ch.Status)
	}
	m.Finish(ctx, ch, 500)
	o, _ := b.Status(ctx, "c")
	if got, want := o.Quota(0).Used, 4*core.Credit; got != want {
		t.Errorf("used %v, want %v", got, want)
	}
}

func TestReject(t *testing.T) {
	m := NewMeter(Config{Billing: newBilling(t, memory.New())})
	for _, tc := range []struct {
		err    error
		status int
		kind   Kind
		body   string
	}{
		{ErrNoIdentity, 401, Unidentified, `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"The request does not identify a client."}`},
		{&CostError{Status: 400, Detail: "bad \"units\""}, 400, Failed, `{"type":"about:blank","title":"Bad Request","status":400,"detail":"bad \"units\""}`},
		{errors.New("secret internal text"), 500, Failed, `{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"The request could not be billed."}`},
	} {
		ch := new(Charge)
		m.Reject(ch, tc.err)
		if ch.Status != tc.status || ch.Kind() != tc.kind || ch.NumHeaders() != 0 {
			t.Errorf("Reject(%v): status %d kind %d, %d headers", tc.err, ch.Status, ch.Kind(), ch.NumHeaders())
		}
		if got := string(ch.Problem()); got != tc.body {
			t.Errorf("Reject(%v) body = %s, want %s", tc.err, got, tc.body)
		}
	}
}

func TestNewMeterPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "apibilling/httpbilling:") {
			t.Errorf("recover() = %v", r)
		}
	}()
	NewMeter(Config{})
}

// TestChargeAllocs checks the allocations of billing one request on the
// memory store, as the adapters do: none with a released charge reused,
// and one more to copy the header values out for a net/http header map.
func TestChargeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under the race detector")
	}
	b := core.New(memory.New(), core.WithClock(func() time.Time { return now }))
	if err := b.SetQuotas("c", core.Quota{Period: core.Day, Limit: core.MaxCredits},
		core.Quota{Period: core.Month, Limit: core.MaxCredits}); err != nil {
		t.Fatal(err)
	}
	m := NewMeter(Config{Billing: b})
	ctx := context.Background()
	var status, n int
	allocs := testing.AllocsPerRun(200, func() {
		ch := NewCharge()
		m.Charge(ctx, ch, "c", "/route", core.MicroCredit)
		m.Finish(ctx, ch, 200)
		status, n = ch.Status, ch.NumHeaders()
		ch.Release()
	})
	if allocs > 0 {
		t.Errorf("%v allocations per request, want 0", allocs)
	}
	if status != 0 || n != 5 {
		t.Errorf("Status %d, %d headers", status, n)
	}
	h := http.Header{}
	ch := NewCharge()
	m.Charge(ctx, ch, "c", "/route", core.MicroCredit)
	ch.SetHeaders(h) // the map's entries
	if allocs := testing.AllocsPerRun(200, func() { ch.SetHeaders(h) }); allocs > 1 {
		t.Errorf("SetHeaders: %v allocations, want at most 1", allocs)
	}
}

// TestRelease checks that a released charge is reset to zero (but for the
// bytes of its buffer, never read past what is used) and that headers set
// from it do not change when it is reused.
func TestRelease(t *testing.T) {
	b := newBilling(t, memory.New())
	ctx := context.Background()
	if _, err := b.Track(ctx, "c", 4*core.Credit); err != nil {
		t.Fatal(err)
	}
	m := NewMeter(Config{Billing: b})
	ch := NewCharge()
	m.Charge(ctx, ch, "c", "/route", 2*core.Credit) // 429: every field set
	if ch.Status != 429 || ch.Err == nil || !ch.Billed || ch.NumHeaders() != 6 {
		t.Fatalf("Status %d, Err %v, Billed %v, %d headers", ch.Status, ch.Err, ch.Billed, ch.NumHeaders())
	}
	h := http.Header{}
	ch.SetHeaders(h)
	want := h.Clone()
	ch.reset()
	ch.buf = [bufSize]byte{}
	if !reflect.DeepEqual(*ch, Charge{}) {
		t.Errorf("released charge is not zero: %+v", *ch)
	}
	m.Charge(ctx, ch, "c", "/other", 0) // reused, other values
	if !reflect.DeepEqual(h, want) {
		t.Errorf("headers changed with the charge's reuse:\n%v\nwant\n%v", h, want)
	}
}

func BenchmarkCharge(b *testing.B) {
	bill := core.New(memory.New())
	if err := bill.SetQuotas("c", core.Quota{Period: core.Day, Limit: core.MaxCredits},
		core.Quota{Period: core.Month, Limit: core.MaxCredits}); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"headers", Config{Billing: bill}},
		{"legacy headers", Config{Billing: bill, NoDraftHeaders: true}},
		{"no headers", Config{Billing: bill, NoLegacyHeaders: true, NoDraftHeaders: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m := NewMeter(tc.cfg)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				ch := NewCharge()
				m.Charge(ctx, ch, "c", "/route", core.MicroCredit)
				m.Finish(ctx, ch, 200)
				ch.Release()
			}
		})
	}
}
