package memory_test

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
	"github.com/frappy-go/apibilling/stores/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RunWithOptions(t, func(t *testing.T) core.Store { return memory.New() }, storetest.Options{
		Retention: func(t *testing.T, d time.Duration) core.Store { return memory.New(memory.WithRetention(d)) },
	})
}

// TestWindowEndingAtUnixEpoch charges a window that ends exactly at Unix
// time 0, as a day window of a Billing whose clock reads 1969-12-31 does.
// It guards against taking an end of 0 for an empty counter, which would
// forget the usage and admit every charge.
func TestWindowEndingAtUnixEpoch(t *testing.T) {
	s := memory.New()
	defer s.Close()
	day := int64(24 * time.Hour)
	o := &core.Op{Client: "c", Cost: 10_000_000, Bucket: core.Span{Start: -day, End: 0}, At: -day, N: 1}
	o.List[0] = core.Window{Period: core.Day, Start: -day, End: 0, Limit: 10_000_000}
	for i, want := range []bool{true, false} {
		res, err := s.Deduct(t.Context(), o)
		if err != nil {
			t.Fatalf("Deduct %d: %v", i, err)
		}
		if got := res.OK; got != want {
			t.Errorf("Deduct %d of the limit: OK = %v, want %v (Used %v)", i, got, want, res.Used[0])
		}
	}
	res, err := s.Usage(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Used[0], int64(10_000_000); got != want {
		t.Errorf("Usage = %v, want %v", got, want)
	}
}

// TestManyClients charges enough clients that every shard's table grows
// several times, and checks that each client keeps its own usage and that
// the export lists each once.
func TestManyClients(t *testing.T) {
	s := memory.New()
	defer s.Close()
	const n = 20_000
	day := int64(24 * time.Hour)
	o := &core.Op{Label: "l", Bucket: core.Span{Start: 0, End: int64(time.Hour)}, N: 1}
	o.List[0] = core.Window{Period: core.Day, Start: 0, End: day, Limit: -1}
	for round := range 2 {
		for i := range n {
			o.Client, o.Cost = fmt.Sprintf("client-%d", i), int64(i+1)
			res, err := s.Deduct(t.Context(), o)
			if err != nil || !res.OK {
				t.Fatalf("Deduct(%q): OK %v, error %v", o.Client, res.OK, err)
			}
			if got, want := res.Used[0], int64(round+1)*int64(i+1); got != want {
				t.Fatalf("round %d: Deduct(%q).Used = %v, want %v", round, o.Client, got, want)
			}
		}
	}
	windows := 0
	if err := s.Export(t.Context(), func(r *core.Record) error {
		if r.Kind == core.RecordWindow {
			windows++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if windows != n {
		t.Errorf("Export listed %d window counters, want %d", windows, n)
	}
}

// TestUnfinishedImportBeforeAnyRecord: an import that fails before writing
// anything still holds its ID, so only that import may run next.
func TestUnfinishedImportBeforeAnyRecord(t *testing.T) {
	s := memory.New()
	defer s.Close()
	errBroken := errors.New("broken")
	broken := func() (*core.Record, error) { return nil, errBroken }
	end := func() (*core.Record, error) { return nil, io.EOF }
	if err := s.Import(t.Context(), broken, core.ImportOptions{ID: "a"}); !errors.Is(err, errBroken) {
		t.Fatalf("Import: %v, want %v", err, errBroken)
	}
	if err := s.Import(t.Context(), end, core.ImportOptions{ID: "b"}); !errors.Is(err, core.ErrNotEmpty) {
		t.Errorf("Import of another ID: %v, want core.ErrNotEmpty", err)
	}
	if err := s.Import(t.Context(), end, core.ImportOptions{ID: "a"}); err != nil {
		t.Errorf("Import resuming: %v", err)
	}
	if err := s.Import(t.Context(), end, core.ImportOptions{ID: "b"}); err != nil {
		t.Errorf("Import into the empty store after the import finished: %v", err)
	}
}
