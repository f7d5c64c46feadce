package httpbilling

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

type otherKey struct{}

// TestRequestState checks WithState, StateFrom and WithoutState: nested
// states (two Billings), requests derived from the one WithState returned,
// the values of the parent context, and a kept request after the end.
func TestRequestState(t *testing.T) {
	r0 := httptest.NewRequest("GET", "/x", nil)
	r0 = r0.WithContext(context.WithValue(r0.Context(), otherKey{}, "v"))
	a, b := new(State), new(State)
	a.headers.m = NewMeter(Config{Billing: newBilling(t, "c", 1)})
	b.headers.m = NewMeter(Config{Billing: newBilling(t, "c", 1), NoLegacyHeaders: true, NoDraftHeaders: true})

	r1 := WithState(r0, a)
	if StateFrom(r0) != nil || StateFrom(r1) != a || r1.Context().Value(otherKey{}) != "v" {
		t.Fatalf("after WithState(a): r0 %p, r1 %p, value %v", StateFrom(r0), StateFrom(r1), r1.Context().Value(otherKey{}))
	}
	if a.headers.vals == nil {
		t.Error("a middleware that sends headers got no header value slots")
	}
	r2 := WithState(r1, b)
	if b.headers.vals != nil {
		t.Error("a middleware without headers got header value slots")
	}
	derived := r2.WithContext(context.WithValue(r2.Context(), otherKey{}, "w"))
	if StateFrom(derived) != b {
		t.Errorf("a request derived from r2 finds %p, want b", StateFrom(derived))
	}
	if got := WithoutState(derived); got != r1 {
		t.Errorf("WithoutState(derived) = %p, want r1", got)
	}
	if StateFrom(derived) != nil || StateFrom(r2) != nil || StateFrom(r1) != a {
		t.Errorf("after WithoutState of b: derived %p, r2 %p, r1 %p (want nil, nil, a)", StateFrom(derived), StateFrom(r2), StateFrom(r1))
	}
	if got := WithoutState(r1); got != r0 || StateFrom(r1) != nil {
		t.Errorf("WithoutState(r1) = %p (want r0), then StateFrom(r1) = %p", got, StateFrom(r1))
	}
	if got := WithoutState(r0); got != r0 {
		t.Errorf("WithoutState of a request without state = %p, want itself", got)
	}
}

// TestHeaderValuesOutliveState checks that the header values set in a
// response's header map stay as they were after the State is released
// and reused for another request.
func TestHeaderValuesOutliveState(t *testing.T) {
	b := newBilling(t, "c", 1_000_000)
	h := handler(b, core.Whole(1))
	for k, io := range []IO[*fakeReq]{fakeIO{}, ctxIO{}} {
		var first http.Header
		for i := range 3 {
			r := newReq()
			r.req = httptest.NewRequest("GET", "/x", nil)
			_ = h.Serve(io, r)
			if i == 0 {
				first = r.resp
			}
		}
		got := first.Get("X-RateLimit-Limit") + " " + first.Get("X-RateLimit-Remaining")
		if want := fmt.Sprintf("1000000 %d", 999_999-3*k); got != want {
			t.Errorf("%T: the first response's headers are %q after two more requests, want %q", io, got, want)
		}
	}
}

// ctxIO is fakeIO keeping the State in the context of r.req, as the
// adapters of gin, echo and net/http do.
type ctxIO struct{ fakeIO }

func (ctxIO) Load(r *fakeReq) *State          { return StateFrom(r.req) }
func (ctxIO) Store(r *fakeReq, st *State)     { r.req = WithState(r.req, st) }
func (ctxIO) Restore(r *fakeReq, _, _ *State) { r.req = WithoutState(r.req) }
