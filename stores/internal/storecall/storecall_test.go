package storecall

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

const s = Store("test")

func TestErr(t *testing.T) {
	err := s.Failed("deduct", io.EOF)
	if !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, io.EOF) || errors.Is(err, core.ErrOutcomeUnknown) {
		t.Errorf("Failed: %v matches the wrong sentinels", err)
	}
	if got, want := err.Error(), "apibilling/test: deduct: EOF"; got != want {
		t.Errorf("Failed: %q, want %q", got, want)
	}
	err = s.Err("deduct", io.EOF, true)
	if !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, core.ErrOutcomeUnknown) || !errors.Is(err, io.EOF) {
		t.Errorf("Err(unknown): %v matches the wrong sentinels", err)
	}
	if got, want := err.Error(), "apibilling/test: deduct: EOF (the call was sent: it may have been applied)"; got != want {
		t.Errorf("Err(unknown): %q, want %q", got, want)
	}
	var e *Error
	if !errors.As(err, &e) || !e.Unknown || e.Op != "deduct" || e.Store != s {
		t.Errorf("errors.As: %+v", e)
	}
}

func TestCheck(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Check(ctx, false, "usage"); err != nil {
		t.Fatalf("Check: %v", err)
	}
	err := s.Check(ctx, true, "usage")
	if !errors.Is(err, core.ErrClosed) || !errors.Is(err, core.ErrStoreUnavailable) {
		t.Errorf("Check on a closed store: %v, want ErrClosed and ErrStoreUnavailable", err)
	}
	if got, want := err.Error(), "apibilling/test: usage: apibilling: store closed"; got != want {
		t.Errorf("Check on a closed store: %q, want %q", got, want)
	}
	cancel()
	if err := s.Check(ctx, true, "usage"); !errors.Is(err, context.Canceled) || !errors.Is(err, core.ErrStoreUnavailable) {
		t.Errorf("Check with a cancelled context: %v, want context.Canceled first", err)
	}
}

func TestBound(t *testing.T) {
	ctx, cancel := Bound(context.Background(), time.Hour)
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > time.Hour {
		t.Errorf("Bound: deadline %v, %v; want within the hour", d, ok)
	}
	soon, cancelSoon := context.WithTimeout(context.Background(), time.Minute)
	defer cancelSoon()
	if got, cancel := Bound(soon, time.Hour); got != soon {
		t.Errorf("Bound replaced a sooner deadline")
	} else {
		cancel()
	}
}
