package storetest

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

// storeCalls calls every method of core.Store but Close with ctx, on
// client's windows ws, and returns each call's error by method name.
func storeCalls(s core.Store, ctx context.Context, o *core.Op, from, to int64) []struct {
	name string
	call func() error
} {
	del := &core.DeleteOp{Client: o.Client, From: from, To: to, N: o.N, List: o.List}
	k := keyed(clone(o), "done-context")
	return []struct {
		name string
		call func() error
	}{
		{"Deduct", func() error { _, err := s.Deduct(ctx, o); return err }},
		{"Deduct with a key", func() error { _, err := s.Deduct(ctx, k); return err }},
		{"Refund", func() error { return s.Refund(ctx, o) }},
		{"Refund by key", func() error { return s.Refund(ctx, k) }},
		{"Usage", func() error { _, err := s.Usage(ctx, o); return err }},
		{"Report", func() error {
			_, err := s.Report(ctx, core.ReportQuery{Client: o.Client, From: from, To: to})
			return err
		}},
		{"Delete", func() error { _, err := s.Delete(ctx, del); return err }},
		{"Export", func() error { return s.Export(ctx, func(*core.Record) error { return nil }) }},
		{"Import", func() error {
			return s.Import(ctx, func() (*core.Record, error) { return nil, io.EOF }, core.ImportOptions{Merge: true})
		}},
	}
}

// testClosed: after Close every method fails with an error wrapping
// core.ErrClosed, and Close can be called again.
func testClosed(t *testing.T, e *env) {
	ws := []core.Window{e.window(core.Minute, 0, 10*credit)}
	e.mustDeduct(t, op("c", "", credit, e.day(0), ws...))
	if err := e.store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, c := range storeCalls(e.store, t.Context(), op("c", "", credit, e.day(0), ws...), e.day(0).Start, e.day(1).End) {
		if err := c.call(); !errors.Is(err, core.ErrClosed) {
			t.Errorf("%s after Close: error %v, want one wrapping core.ErrClosed", c.name, err)
		}
	}
	if err := e.store.Close(); err != nil && !errors.Is(err, core.ErrClosed) {
		t.Errorf("second Close: %v, want nil or core.ErrClosed", err)
	}
}

// testCancelled: with a context already done, every method fails with an
// error wrapping the context's error and changes nothing, as a live context
// then shows.
func testCancelled(t *testing.T, e *env) {
	ws := []core.Window{e.window(core.Minute, 0, 10*credit), e.window(core.Day, 0, unlimited)}
	from, to := e.day(0).Start, e.day(1).End
	for _, dc := range deadContexts() {
		t.Run(dc.name, func(t *testing.T) {
			client := "c-" + dc.name
			e.mustDeduct(t, op(client, "l", 5*credit, e.day(0), ws...))
			before := e.reportAll(t, client)
			for _, c := range storeCalls(e.store, dc.ctx, op(client, "l", credit, e.day(0), ws...), from, to) {
				if err := c.call(); !errors.Is(err, dc.err) {
					t.Errorf("%s with a done context: error %v, want one wrapping %v", c.name, err, dc.err)
				}
			}
			e.wantUsage(t, "after calls with a done context", client, ws, 5*credit, 5*credit)
			if got := e.reportAll(t, client); !equalRecords(got, before) {
				t.Errorf("report after calls with a done context = %v, want %v as before", got, before)
			}
			// The keyed charge recorded no key.
			wantCharged(t, "the key of a charge with a done context", e.mustDeduct(t, keyed(op(client, "l", credit, e.day(0), ws...), "done-context")))
			// A client first seen with a done context has nothing either.
			fresh := client + "-fresh"
			if _, err := e.store.Deduct(dc.ctx, op(fresh, "l", credit, e.day(0), ws...)); !errors.Is(err, dc.err) {
				t.Errorf("Deduct for a new client with a done context: error %v, want one wrapping %v", err, dc.err)
			}
			e.wantUsage(t, "a new client after a done context", fresh, ws, 0, 0)
			e.wantReportAll(t, "a new client after a done context", fresh, records{})
		})
	}
}
