package bolt

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// TestMigrateV1 opens testdata/v1.db, a file that the format-1 store
// (apibilling v0.4) wrote, and checks that every window counter and day
// aggregate it held is there after the migration to format 2, that the
// file says format 2, and that billing continues on it. The fixture holds:
//
//	alice: day window of 2026-01-02 (4 credits), month window of
//	  January 2026 (9 credits); day aggregates 2026-01-01 "/a" 3, "/b" 2,
//	  2026-01-02 "/a" 4
//	"b\x00": hour window 2026-01-01T00 (0.5 credits, unlimited); day
//	  aggregate 2026-01-01 "" 0.5
func TestMigrateV1(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "usage.db")
	write(t, path, src)
	ctx := context.Background()
	d0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

	s, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open of a format-1 file: %v", err)
	}
	alice := &core.Op{Client: "alice", N: 2, List: [core.MaxQuotas]core.Window{
		{Period: core.Day, Start: d0 + day, End: d0 + 2*day, Limit: 100 * credit},
		{Period: core.Month, Start: d0, End: d0 + 31*day, Limit: 1000 * credit},
	}}
	res, err := s.Usage(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Used[:2], []int64{4 * credit, 9 * credit}; !slices.Equal(got, want) {
		t.Errorf("alice's windows after the migration: %v, want %v", got, want)
	}
	b := &core.Op{Client: "b\x00", N: 1, List: [core.MaxQuotas]core.Window{{Period: core.Hour, Start: d0, End: d0 + hour, Limit: -1}}}
	if res, err = s.Usage(ctx, b); err != nil || res.Used[0] != credit/2 {
		t.Errorf("b's hour window after the migration: %v, %v, want %v", res.Used[0], err, credit/2)
	}
	recs, err := s.Report(ctx, core.ReportQuery{Client: "alice", From: d0, To: d0 + 3*day})
	if err != nil {
		t.Fatal(err)
	}
	want := []core.UsageRecord{
		{Bucket: core.Span{Start: d0, End: d0 + day}, Label: "/a", Credits: 3 * credit},
		{Bucket: core.Span{Start: d0, End: d0 + day}, Label: "/b", Credits: 2 * credit},
		{Bucket: core.Span{Start: d0 + day, End: d0 + 2*day}, Label: "/a", Credits: 4 * credit},
	}
	if got := usageRecords(recs); !slices.Equal(got, want) {
		t.Errorf("alice's aggregates after the migration: %v, want %v", got, want)
	}
	// Billing continues: a charge adds to the migrated windows.
	alice.Cost, alice.At = credit, d0+day+1
	alice.Bucket = core.Span{Start: d0 + day, End: d0 + day + hour}
	if res, err := s.Deduct(ctx, alice); err != nil || !res.OK || res.Used[1] != 10*credit {
		t.Errorf("charge after the migration: %+v, %v", res, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(ctx, path)
	if err != nil {
		t.Fatalf("Check after the migration: %v", err)
	}
	if rep.Format != FormatVersion || rep.Clients != 2 || rep.Windows != 3 || rep.Usage != 5 {
		t.Errorf("Check after the migration: %+v, want format %d, 2 clients, 3 windows, 5 aggregates", rep, FormatVersion)
	}
	checkFile(t, path)
}
