package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

const hour = int64(time.Hour)

// charge deducts cost from client's day window starting at start, in the
// hour starting at start.
func charge(t *testing.T, s core.Store, client string, start, cost int64) core.Result {
	t.Helper()
	o := &core.Op{Client: client, Cost: cost, Bucket: core.Span{Start: start, End: start + hour}, At: start, N: 1}
	o.List[0] = core.Window{Period: core.Day, Start: start, End: start + 24*hour, Limit: -1}
	res, err := s.Deduct(t.Context(), o)
	if err != nil || !res.OK {
		t.Fatalf("Deduct: %+v, %v", res, err)
	}
	return res
}

func schemaVersion(t *testing.T, s *Store) string {
	t.Helper()
	var v string
	if err := s.pool.QueryRow(t.Context(), s.names(`SELECT value FROM {t}meta WHERE name = 'schema_version'`)).Scan(&v); err != nil {
		t.Fatalf("reading the schema version: %v", err)
	}
	return v
}

func TestSchemaCreated(t *testing.T) {
	pool := sharedPool(t)
	s := newStore(t, pool, nil)
	if got, want := schemaVersion(t, s), "1"; got != want {
		t.Errorf("schema version = %s, want %s", got, want)
	}
	// A second store on the same tables (another process, a restart)
	// finds them and changes nothing.
	charge(t, s, "a", 0, 5)
	again, err := New(t.Context(), pool, &Options{Schema: s.Schema()})
	if err != nil {
		t.Fatalf("New on existing tables: %v", err)
	}
	defer again.Close()
	recs, err := again.Report(t.Context(), core.ReportQuery{Client: "a", From: 0, To: hour})
	if err != nil || len(recs) != 1 || recs[0].Credits != 5 {
		t.Errorf("Report through the second store = %+v, %v; want the 5 micro-credits charged", recs, err)
	}
}

// TestNewerSchemaRefused: tables written by a newer version are refused
// with an error naming both versions.
func TestNewerSchemaRefused(t *testing.T) {
	pool := sharedPool(t)
	s := newStore(t, pool, nil)
	if _, err := pool.Exec(t.Context(), s.names(`UPDATE {t}meta SET value = '7' WHERE name = 'schema_version'`)); err != nil {
		t.Fatal(err)
	}
	_, err := New(t.Context(), pool, &Options{Schema: s.Schema()})
	var ve *VersionError
	if !errors.As(err, &ve) || ve.Found != 7 || ve.Known != SchemaVersion {
		t.Fatalf("New on version 7: %v, want a *VersionError of 7 and %d", err, SchemaVersion)
	}
	if msg := err.Error(); !strings.Contains(msg, "version 7") || !strings.Contains(msg, "version 1") {
		t.Errorf("error %q does not name both versions", msg)
	}
}

// TestMigrations opens tables of an older version: version 0 (a meta
// table and no other, as an interrupted first setup or a pre-release
// leaves) migrates to 1, and version 1 migrates to a version 2 that the
// test adds, keeping the data.
func TestMigrations(t *testing.T) {
	pool := sharedPool(t)
	schema := testSchema()
	dropSchema(t, pool, schema)
	ctx := t.Context()
	if _, err := pool.Exec(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE "`+schema+`".apibilling_meta (name text PRIMARY KEY, value text NOT NULL);
		INSERT INTO "`+schema+`".apibilling_meta VALUES ('schema_version', '0')`); err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, pool, &Options{Schema: schema})
	if err != nil {
		t.Fatalf("New on version 0: %v", err)
	}
	defer s.Close()
	if got := schemaVersion(t, s); got != "1" {
		t.Errorf("after migrating version 0: version %s, want 1", got)
	}
	charge(t, s, "a", 0, 5)

	saved := migrations
	defer func() { migrations = saved }()
	migrations = append(append([]migration(nil), saved...), migration{to: 2, stmts: []string{
		`ALTER TABLE {t}usage ADD COLUMN note text`,
		`CREATE INDEX {p}usage_label ON {t}usage (label)`,
	}})
	s2, err := New(ctx, pool, &Options{Schema: schema})
	if err != nil {
		t.Fatalf("New with a migration to version 2: %v", err)
	}
	defer s2.Close()
	if got := schemaVersion(t, s2); got != "2" {
		t.Errorf("after migrating version 1: version %s, want 2", got)
	}
	var n int
	if err := pool.QueryRow(ctx, s2.names(`SELECT count(*) FROM {t}usage WHERE note IS NULL AND used = 5`)).Scan(&n); err != nil || n != 1 {
		t.Errorf("the usage after the migration: %d rows, %v; want the one charged", n, err)
	}
	// The previous version now refuses the tables.
	migrations = saved
	if _, err := New(ctx, pool, &Options{Schema: schema}); !errors.As(err, new(*VersionError)) {
		t.Errorf("New of version 1 on version 2: %v, want a *VersionError", err)
	}
}

// TestBatchFunctionAdded opens tables written by the release before group
// commit (schema version 1, the functions deduct_1, refund_1 and delete_1
// only): the batch function is created beside them, the schema version
// stays 1 (the tables did not change, so a process of that release still
// opens them and shares the clients' locks), and batches work.
func TestBatchFunctionAdded(t *testing.T) {
	pool := sharedPool(t)
	old := newStore(t, pool, &Options{NoGroupCommit: true})
	charge(t, old, "a", 0, 5)
	ctx := t.Context()
	if _, err := pool.Exec(ctx, old.names(`DROP FUNCTION {t}`+fnDeductBatch)); err != nil {
		t.Fatal(err)
	}
	exists := func() bool {
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname = $1 AND p.proname = $2)`, old.Schema(), old.Prefix()+fnDeductBatch).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if exists() {
		t.Fatal("the batch function is still there")
	}
	s, err := New(ctx, pool, &Options{Schema: old.Schema(), Timeout: time.Minute})
	if err != nil {
		t.Fatalf("New on the previous release's tables: %v", err)
	}
	defer s.Close()
	if !exists() {
		t.Fatal("New did not create the batch function")
	}
	if got := schemaVersion(t, s); got != "1" {
		t.Errorf("schema version %s, want 1", got)
	}
	var sizes []int
	s.gc.onBatch = func(n int) { sizes = append(sizes, n) }
	release := holdInFlight(t, s)
	wait := queueAll(t, s, []*core.Op{gcOp("a", "", "", 1, -1, 0), gcOp("a", "", "", 2, -1, 0)}, s.Deduct)
	release()
	for i, a := range wait() {
		if a.err != nil || !a.res.OK {
			t.Errorf("deduction %d in a batch: %+v, %v", i, a.res, a.err)
		}
	}
	if len(sizes) != 1 || sizes[0] != 2 {
		t.Errorf("batches %v, want one of 2", sizes)
	}
	// The previous release's process (no group commit) on the same tables.
	res, err := old.Deduct(ctx, gcOp("a", "", "", 4, -1, 0))
	if err != nil || !res.OK || res.Used[0] != 12 {
		t.Errorf("a deduction of the previous release after the batch: %+v, %v; want 12 used in the day (5 + 1 + 2 + 4)", res, err)
	}
}

// TestConcurrentSetup opens one fresh schema from many goroutines at once,
// as processes starting together do: every open succeeds.
func TestConcurrentSetup(t *testing.T) {
	pool := sharedPool(t)
	schema := testSchema()
	dropSchema(t, pool, schema)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := New(context.Background(), pool, &Options{Schema: schema})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("New: %v", err)
		}
	}
}

func TestOptionsRefused(t *testing.T) {
	pool := sharedPool(t)
	for _, o := range []Options{
		{Prefix: "Bad"},
		{Prefix: `x"; DROP TABLE y; --`},
		{Prefix: strings.Repeat("p", 41)},
		{Schema: "a b"},
		{Timeout: -1},
	} {
		if s, err := New(t.Context(), pool, &o); err == nil {
			s.Close()
			t.Errorf("New(%+v) succeeded, want an error", o)
		}
	}
	if _, err := New(t.Context(), nil, nil); err == nil {
		t.Error("New(nil pool) succeeded")
	}
}

// TestPrefixes keeps two stores in one schema apart by their prefixes.
func TestPrefixes(t *testing.T) {
	pool := sharedPool(t)
	a := newStore(t, pool, nil)
	b, err := New(t.Context(), pool, &Options{Schema: a.Schema(), Prefix: "other_"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	charge(t, a, "c", 0, 5)
	if recs, err := b.Report(t.Context(), core.ReportQuery{Client: "c", From: 0, To: hour}); err != nil || len(recs) != 0 {
		t.Errorf("Report of the other prefix = %v, %v; want nothing", recs, err)
	}
}

// TestPrune: expired keys and aggregates past the retention are pruned,
// by Prune in batches and, for a client's own aggregates, by its first
// charge of a new hour; newer ones stay.
func TestPrune(t *testing.T) {
	pool := sharedPool(t)
	s := newStore(t, pool, &Options{Retention: 10 * time.Hour, PruneBatch: 3, PruneInterval: -1})
	ctx := t.Context()
	base := int64(1000) * hour
	for h := range int64(8) {
		for _, c := range []string{"a", "b"} {
			o := &core.Op{Client: c, Cost: 1, Bucket: core.Span{Start: base + h*hour, End: base + (h+1)*hour},
				At: base + h*hour, Key: "k" + string(rune('0'+h)), KeyExpires: base + h*hour + 2*hour, N: 1}
			o.List[0] = core.Window{Period: core.Day, Start: base, End: base + 24*hour, Limit: -1}
			if res, err := s.Deduct(ctx, o); err != nil || !res.OK {
				t.Fatalf("Deduct: %+v, %v", res, err)
			}
		}
	}
	// At base+12h: keys of hours 0..9 expired (those of hours 0..7 exist),
	// aggregates of hours before base+2h past the retention.
	p, err := s.Prune(ctx, time.Unix(0, base+12*hour))
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if p.Keys != 16 || p.Usage != 4 {
		t.Errorf("Prune = %+v, want 16 keys and 4 aggregates", p)
	}
	recs, err := s.Report(ctx, core.ReportQuery{Client: "a", From: 0, To: base + 24*hour})
	if err != nil || len(recs) != 6 {
		t.Errorf("Report after Prune: %d records, %v; want the 6 of hours 2 to 7", len(recs), err)
	}
	// A charge in a new hour, 20 hours on, drops the client's aggregates
	// past the retention at once.
	charge(t, s, "a", base+20*hour, 1)
	recs, err = s.Report(ctx, core.ReportQuery{Client: "a", From: 0, To: base + 24*hour})
	if err != nil || len(recs) != 1 {
		t.Errorf("Report after a charge 20 hours on: %d records, %v; want only its own", len(recs), err)
	}
	if p, err := s.Prune(ctx, time.Unix(0, base+12*hour)); err != nil || p != (Pruned{}) {
		t.Errorf("second Prune = %+v, %v; want nothing left", p, err)
	}
}
