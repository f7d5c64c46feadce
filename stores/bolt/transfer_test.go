package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/memory"
)

// fill charges a store with windows, aggregates of several hours and
// labels, and idempotency keys, for clients c0..c(n-1).
func fill(t testing.TB, s core.Store, n int, now int64) {
	t.Helper()
	ctx := context.Background()
	for i := range 20 * n {
		at := now + int64(i%5)*hour
		op := &core.Op{Client: fmt.Sprint("c", i%n), Label: fmt.Sprint("/r", i%3), Cost: credit * int64(1+i%4), At: at,
			Bucket: core.Span{Start: at - at%hour, End: at - at%hour + hour}, N: 2}
		op.List[0] = core.Window{Period: core.Day, Start: now - now%day, End: now - now%day + day, Limit: -1, Levels: [core.MaxLevels]int64{10 * credit}}
		op.List[1] = core.Window{Period: core.Month, Start: now - now%day, End: now - now%day + 31*day, Limit: 1 << 50}
		if i%4 == 0 {
			op.Key, op.KeyExpires = fmt.Sprint("key-", i), now+48*hour
		}
		if res, err := s.Deduct(ctx, op); err != nil || !res.OK {
			t.Fatalf("Deduct: %+v, %v", res, err)
		}
	}
}

// records returns a store's export as a slice.
func records(t testing.TB, s core.Store) []core.Record {
	t.Helper()
	var out []core.Record
	if err := s.Export(context.Background(), func(r *core.Record) error { out = append(out, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// feed returns an Import source reading recs.
func feed(recs []core.Record) func() (*core.Record, error) {
	i := 0
	return func() (*core.Record, error) {
		if i == len(recs) {
			return nil, io.EOF
		}
		i++
		return &recs[i-1], nil
	}
}

// TestRoundTripMemory exports the memory store into the bolt store and
// back into another memory store: every record is equal, and so is every
// answer (usage, reports, idempotent replays) of the bolt store and the
// first memory store. It runs the merge of an export into itself too:
// usage doubles, keys stay.
func TestRoundTripMemory(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Hour).UnixNano()
	ms := memory.New()
	fill(t, ms, 7, now)
	src := records(t, ms)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			bs, path := openTest(t, m.opts)
			if err := bs.Import(ctx, feed(src), core.ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			if got, want := exportAll(t, bs, now), exportAll(t, ms, now); !slices.Equal(got, want) {
				t.Fatalf("bolt after the import:\n%v\nwant\n%v", got, want)
			}
			// The same answers, also after a restart.
			if err := bs.Close(); err != nil {
				t.Fatal(err)
			}
			bs2, err := Open(path, m.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer bs2.Close()
			for i := range 7 {
				c := fmt.Sprint("c", i)
				q := core.ReportQuery{Client: c, From: now - day, To: now + day}
				want, _ := ms.Report(ctx, q)
				got, err := bs2.Report(ctx, q)
				if err != nil || !slices.Equal(usageRecords(got), usageRecords(want)) {
					t.Errorf("%s: Report = %v, %v, want %v", c, got, err, want)
				}
			}
			replay := &core.Op{Client: "c0", Label: "/r0", Cost: credit, At: now + hour, Key: "key-0", KeyExpires: now + 49*hour,
				Bucket: core.Span{Start: now, End: now + hour}, N: 1,
				List: [core.MaxQuotas]core.Window{{Period: core.Day, Start: now - now%day, End: now - now%day + day, Limit: -1}}}
			want, _ := ms.Deduct(ctx, replay)
			got, err := bs2.Deduct(ctx, replay)
			if err != nil || !want.Replayed || !sameResult(got, want) {
				t.Errorf("replay after the import: %+v, %v, want %+v", got, err, want)
			}
			back := memory.New()
			if err := back.Import(ctx, feed(records(t, bs2)), core.ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			if got, want := exportAll(t, back, now), exportAll(t, bs2, now); !slices.Equal(got, want) {
				t.Errorf("memory after the import from bolt:\n%v\nwant\n%v", got, want)
			}
			// A merge of the store into itself doubles the usage.
			before := records(t, bs2)
			if err := bs2.Import(ctx, feed(before), core.ImportOptions{}); !errors.Is(err, core.ErrNotEmpty) {
				t.Errorf("Import into a store that is not empty: %v, want ErrNotEmpty", err)
			}
			if err := bs2.Import(ctx, feed(before), core.ImportOptions{Merge: true}); err != nil {
				t.Fatal(err)
			}
			for _, r := range records(t, bs2) {
				if r.Kind != core.RecordUsage {
					continue
				}
				for _, b := range before {
					if b.Kind == core.RecordUsage && b.Client == r.Client && b.Start == r.Start && b.Label == r.Label && r.Used != 2*b.Used {
						t.Errorf("merged aggregate %+v, want twice %d", r, b.Used)
					}
				}
			}
		})
	}
}

// TestImportResume interrupts an import (its source fails half-way),
// restarts the store, and runs the import again with the same ID: the
// store still holds the ID, so the import is not refused as a store that
// is not empty, and ends with every record written and the ID cleared. An
// import with another ID is refused.
func TestImportResume(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Hour).UnixNano()
	ms := memory.New()
	fill(t, ms, 5, now)
	src := records(t, ms)
	s, path := openTest(t, nil)
	half := 0
	broken := func() (*core.Record, error) {
		if half == len(src)/2 {
			return nil, errors.New("connection lost (test)")
		}
		half++
		return &src[half-1], nil
	}
	if err := s.Import(ctx, broken, core.ImportOptions{ID: "export-1"}); err == nil {
		t.Fatal("the interrupted import succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Import(ctx, feed(src), core.ImportOptions{ID: "export-2"}); !errors.Is(err, core.ErrNotEmpty) {
		t.Errorf("import of another ID: %v, want ErrNotEmpty", err)
	}
	if err := s.Import(ctx, feed(src), core.ImportOptions{ID: "export-1"}); err != nil {
		t.Fatalf("resumed import: %v", err)
	}
	if got, want := exportAll(t, s, now), exportAll(t, ms, now); !slices.Equal(got, want) {
		t.Errorf("after the resumed import:\n%v\nwant\n%v", got, want)
	}
	rep, err := checkRunning(t, s)
	if err != nil || rep.ImportID != "" {
		t.Errorf("after the import: import ID %q, %v; want none", rep.ImportID, err)
	}
}

// checkRunning closes s's file for a Check and opens it again.
func checkRunning(t *testing.T, s *Store) (CheckReport, error) {
	t.Helper()
	path := s.path
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return Check(context.Background(), path)
}

// TestBackup copies the store while goroutines charge it: the copy opens
// as a store whose export is the source's export at some instant, between
// the state before the copy and after it.
func TestBackup(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Hour).UnixNano()
	s, _ := openTest(t, nil)
	fill(t, s, 10, now)
	var stop atomic.Bool
	var charged atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load() && i < 100_000; i++ {
				op := dayOp(fmt.Sprint("busy-", g), credit)
				if _, err := s.Deduct(ctx, op); err != nil {
					t.Error(err)
					return
				}
				charged.Add(1)
			}
		}()
	}
	for charged.Load() < 100 {
		time.Sleep(time.Millisecond)
	}
	var buf bytes.Buffer
	n, err := s.Backup(ctx, &buf)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("Backup reported %d bytes, wrote %d", n, buf.Len())
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	write(t, path, buf.Bytes())
	if _, err := Check(ctx, path); err != nil {
		t.Fatalf("Check of the copy: %v", err)
	}
	c, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The copy holds the filled clients exactly, and the busy ones at some
	// count up to what was charged.
	got, want := exportAll(t, c, now), exportAll(t, s, now)
	busy := func(r string) bool { return bytes.Contains([]byte(r), []byte("busy-")) }
	if g, w := slices.DeleteFunc(got, busy), slices.DeleteFunc(want, busy); !slices.Equal(g, w) {
		t.Errorf("the copy:\n%v\nwant\n%v", g, w)
	}
	var total int64
	for g := range 4 {
		res, err := c.Usage(ctx, dayOp(fmt.Sprint("busy-", g), 0))
		if err != nil {
			t.Fatal(err)
		}
		total += res.Used[0] / credit
	}
	if total < 100 || total > charged.Load() {
		t.Errorf("the copy holds %d busy charges, want 100 to %d", total, charged.Load())
	}
	if _, err := s.Backup(canceled(), io.Discard); !errors.Is(err, context.Canceled) {
		t.Errorf("Backup with a canceled context: %v", err)
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestPruning checks that expired idempotency keys and usage aggregates
// past the retention are removed from the file by checkpoints.
func TestPruning(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t, &Options{Retention: 48 * time.Hour})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	charge := func(client string, at int64, key string) {
		op := dayOp(client, credit)
		op.At, op.Bucket = at, core.Span{Start: at - at%hour, End: at - at%hour + hour}
		op.List[0].Start, op.List[0].End = at-at%day, at-at%day+day
		if key != "" {
			op.Key, op.KeyExpires = key, at+hour
		}
		if res, err := s.Deduct(ctx, op); err != nil || !res.OK {
			t.Fatal(res, err)
		}
	}
	for i := range 100 {
		charge(fmt.Sprint("old-", i), base, fmt.Sprint("k", i))
	}
	charge("new", base+5*day, "k")
	if err := s.checkpoint(); err != nil {
		t.Fatal(err)
	}
	// Clients in the cache are left alone; after the first checkpoint
	// evicted them, the next one (after a change: an idle store does not
	// checkpoint) clears their old open hours.
	charge("new", base+5*day+1, "")
	if err := s.checkpoint(); err != nil {
		t.Fatal(err)
	}
	rep, err := checkRunning(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys != 1 || rep.Usage != 1 || rep.Clients != 101 {
		t.Errorf("after pruning: %d keys, %d aggregates, %d clients; want 1, 1 (the new ones) and 101", rep.Keys, rep.Usage, rep.Clients)
	}
	s, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs, err := s.Report(ctx, core.ReportQuery{Client: "old-1", From: base - day, To: base + day})
	if err != nil || len(recs) != 0 {
		t.Errorf("report of a pruned client: %v, %v", recs, err)
	}
}
