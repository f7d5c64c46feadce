package redis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/storetest"
	goredis "github.com/redis/go-redis/v9"
)

// The tests need a Redis server: APIBILLING_REDIS_ADDR (default
// 127.0.0.1:6379). Without one they skip, unless APIBILLING_REQUIRE_SERVICES=1
// makes them fail (CI sets it). Each store works under a prefix of its own
// and its keys are deleted when the test ends; nothing else is touched.

const (
	addrEnv    = "APIBILLING_REDIS_ADDR"
	requireEnv = "APIBILLING_REQUIRE_SERVICES"
)

func redisAddr() string {
	if a := os.Getenv(addrEnv); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

var reachable struct {
	once sync.Once
	err  error
}

// probe reports, once per process, why the test Redis cannot be reached.
func probe(addr string) error {
	reachable.once.Do(func() {
		c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		reachable.err = c.Ping(ctx).Err()
	})
	return reachable.err
}

// newClient returns a client of the test Redis, closed when the test ends;
// it skips or fails the test when Redis cannot be reached.
func newClient(t testing.TB) *goredis.Client {
	t.Helper()
	addr := redisAddr()
	if err := probe(addr); err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("no Redis at %s (%v), and %s=1 requires one", addr, err, requireEnv)
		}
		t.Skipf("\n\n*** SKIPPED: no Redis at %s (%v).\n*** Start one or set %s; %s=1 fails instead of skipping. ***\n\n", addr, err, addrEnv, requireEnv)
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 80})
	t.Cleanup(func() { c.Close() })
	return c
}

var prefixSeq atomic.Int64

// testPrefix returns a key prefix no other test or process uses.
func testPrefix() string {
	return fmt.Sprintf("apibilling-test-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), prefixSeq.Add(1))
}

// newStore returns a store on c under a fresh prefix, whose keys are
// deleted when the test ends; the store is closed then too.
func newStore(t testing.TB, c goredis.UniversalClient, opts *Options) *Store {
	t.Helper()
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = testPrefix()
	}
	s, err := New(c, &o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		deleteKeys(t, c, o.Prefix)
	})
	return s
}

// deleteKeys deletes every key under prefix.
func deleteKeys(t testing.TB, c goredis.UniversalClient, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := scanKeys(ctx, c, prefix)
	if err == nil && len(keys) > 0 {
		err = c.Unlink(ctx, keys...).Err()
	}
	if err != nil {
		t.Errorf("deleting the keys under %q: %v", prefix, err)
	}
}

// scanKeys returns every key under prefix.
func scanKeys(ctx context.Context, c goredis.UniversalClient, prefix string) ([]string, error) {
	var keys []string
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// TestConformance runs the shared store suite against Redis.
func TestConformance(t *testing.T) {
	c := newClient(t)
	storetest.Run(t, func(t *testing.T) core.Store {
		// The suite closes the store; the client stays open for the others.
		return newStore(t, c, &Options{Timeout: 5 * time.Second})
	})
}

const (
	credit = core.Credit
	day    = int64(24 * time.Hour)
)

// future is a UTC midnight two days ahead, where the tests' windows start.
func future() int64 {
	return time.Now().UTC().Truncate(24 * time.Hour).Add(48 * time.Hour).UnixNano()
}

func mkop(client, label string, cost core.Credits, d core.DaySpan, ws ...core.Window) core.Op {
	o := core.Op{Client: client, Label: label, Cost: cost, Day: d, N: len(ws)}
	copy(o.List[:], ws)
	return o
}

func used(t *testing.T, s *Store, client string, ws ...core.Window) []core.Credits {
	t.Helper()
	res, err := s.Usage(t.Context(), mkop(client, "", 0, core.DaySpan{}, ws...))
	if err != nil {
		t.Fatalf("Usage(%q): %v", client, err)
	}
	return slices.Clone(res.Used[:len(ws)])
}

func deduct(t *testing.T, s *Store, o core.Op) core.Result {
	t.Helper()
	res, err := s.Deduct(t.Context(), o)
	if err != nil {
		t.Fatalf("Deduct(%q, %v): %v", o.Client, o.Cost, err)
	}
	return res
}

// TestNew checks the options New refuses.
func TestNew(t *testing.T) {
	good := goredis.NewClient(&goredis.Options{Addr: redisAddr(), ContextTimeoutEnabled: true})
	defer good.Close()
	plain := goredis.NewClient(&goredis.Options{Addr: redisAddr()})
	defer plain.Close()
	cases := []struct {
		name   string
		client goredis.UniversalClient
		opts   *Options
		ok     bool
	}{
		{"defaults", good, nil, true},
		{"all set", good, &Options{Prefix: "x:y", Timeout: time.Second, Retention: -1, Grace: time.Second}, true},
		{"nil client", nil, nil, false},
		{"no context timeouts", plain, nil, false},
		{"prefix with {", good, &Options{Prefix: "a{b"}, false},
		{"prefix with }", good, &Options{Prefix: "a}b"}, false},
		{"negative timeout", good, &Options{Timeout: -time.Second}, false},
		{"negative grace", good, &Options{Grace: -time.Second}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(c.client, c.opts)
			if got := err == nil; got != c.ok {
				t.Fatalf("New: error %v, want ok=%v", err, c.ok)
			}
			if c.ok && c.opts == nil && s.Prefix() != DefaultPrefix {
				t.Errorf("Prefix() = %q, want %q", s.Prefix(), DefaultPrefix)
			}
		})
	}
}

// hashTag returns the part of key Redis Cluster hashes: between the first
// '{' and the first '}' after it, when not empty.
func hashTag(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return key
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return key
	}
	return key[i+1 : i+1+j]
}

// TestKeys checks that all keys of a client share one hash tag, and that
// IDs with the tag's delimiters, the escape character, ':' or NUL neither
// break it nor share keys with another ID.
func TestKeys(t *testing.T) {
	s := &Store{prefix: "p"}
	ids := []string{"", "a", "a{b", "a}b", "{", "}", "}{", "%", "%7B", "%7D", "%25", "a:b", "a\x00b", "a\x00", strings.Repeat("}", core.MaxClientIDLen)}
	ws := []core.Window{{Period: core.Second}, {Period: core.Day}, {Period: core.Year}}
	seen := map[string]string{}
	for _, id := range ids {
		keys := s.keys(id, ws, true)
		if len(keys) != len(ws)+1 {
			t.Fatalf("keys(%q) = %q, want %d keys", id, keys, len(ws)+1)
		}
		tag := hashTag(keys[0])
		if tag == keys[0] {
			t.Errorf("keys(%q)[0] = %q has no hash tag", id, keys[0])
		}
		for _, k := range keys {
			if got := hashTag(k); got != tag {
				t.Errorf("keys(%q): %q has tag %q, want %q", id, k, got, tag)
			}
			if other, ok := seen[k]; ok {
				t.Errorf("IDs %q and %q share the key %q", id, other, k)
			}
			seen[k] = id
		}
	}
}

// TestClientIDs runs deductions for IDs that stress the key encoding and
// checks that each sees only its own usage.
func TestClientIDs(t *testing.T) {
	s := newStore(t, newClient(t), nil)
	base := future()
	w := core.Window{Period: core.Hour, Start: base, End: base + int64(time.Hour), Limit: 1000 * credit}
	d := core.DaySpan{Start: base, End: base + day}
	ids := []string{"a{b", "a}b", "a%7Bb", "a%7Db", "a:b", "a\x00b", "a", "\xff\xfe", strings.Repeat("x", core.MaxClientIDLen)}
	for i, id := range ids {
		deduct(t, s, mkop(id, "", core.Credits(i+1)*credit, d, w))
	}
	for i, id := range ids {
		if got, want := used(t, s, id, w), []core.Credits{core.Credits(i+1) * credit}; !slices.Equal(got, want) {
			t.Errorf("Usage(%q) = %v, want %v", id, got, want)
		}
	}
}

// TestNanosecondWindows checks that window starts one nanosecond apart are
// told apart: as Lua numbers (doubles) they would be equal.
func TestNanosecondWindows(t *testing.T) {
	s := newStore(t, newClient(t), nil)
	base := future() + 123_456_789 // not a multiple of any power of two
	if float64(base) != float64(base+1) {
		t.Fatalf("the test needs two starts that are equal as doubles: %d and %d are not", base, base+1)
	}
	w0 := core.Window{Period: core.Second, Start: base, End: base + 1e9, Limit: 5 * credit}
	w1 := core.Window{Period: core.Second, Start: base + 1, End: base + 1 + 1e9, Limit: 5 * credit}
	d := core.DaySpan{Start: base, End: base + day}
	if res := deduct(t, s, mkop("c", "", 5*credit, d, w0)); !res.OK {
		t.Fatalf("filling the first window refused")
	}
	// The window starting 1 ns later is new: it has room again.
	res := deduct(t, s, mkop("c", "", 2*credit, d, w1))
	if !res.OK || res.Used[0] != 2*credit {
		t.Errorf("Deduct in the window 1 ns later = %v, %v; want admitted with 2 credits used", res.OK, res.Used[0])
	}
	// The older window is now counted against the newer one.
	if got, want := used(t, s, "c", w0), []core.Credits{2 * credit}; !slices.Equal(got, want) {
		t.Errorf("Usage of the older window = %v, want %v", got, want)
	}
	// A refund for the older window finds no counter of its own.
	if err := s.Refund(t.Context(), mkop("c", "", credit, d, w0)); err != nil {
		t.Fatalf("Refund: %v", err)
	}
	if got, want := used(t, s, "c", w1), []core.Credits{2 * credit}; !slices.Equal(got, want) {
		t.Errorf("Usage after refunding the older window = %v, want %v", got, want)
	}
	// Report bounds are exact to the nanosecond too.
	recs, err := s.Report(t.Context(), core.ReportQuery{Client: "c", From: base + 1, To: base + day})
	if err != nil {
		t.Fatalf("Report: %v", err)
	}
	if len(recs) != 0 {
		t.Errorf("Report from 1 ns after the day's start = %v, want nothing", recs)
	}
	recs, err = s.Report(t.Context(), core.ReportQuery{Client: "c", From: base, To: base + 1})
	if err != nil {
		t.Fatalf("Report: %v", err)
	}
	if len(recs) != 1 || recs[0].Day != d || recs[0].Credits != 6*credit {
		t.Errorf("Report of the day's first nanosecond = %+v, want one record of %v on %v", recs, 6*credit, d)
	}
}

// TestExactCredits checks credits at and beyond 2^53, where a double would
// round: limits at MaxCredits, usage sums of unlimited windows and day
// aggregates above it, and negative times.
func TestExactCredits(t *testing.T) {
	s := newStore(t, newClient(t), nil)
	base := future()
	max := core.MaxCredits
	d := core.DaySpan{Start: base, End: base + day}
	t.Run("limit MaxCredits", func(t *testing.T) {
		w := core.Window{Period: core.Day, Start: base, End: base + day, Limit: max}
		steps := []struct {
			cost core.Credits
			ok   bool
			used core.Credits
		}{
			{max - 1, true, max - 1},
			{2, false, max - 1},
			{1, true, max},
			{1, false, max},
			{0, true, max},
		}
		for i, st := range steps {
			res := deduct(t, s, mkop("limit", "", st.cost, d, w))
			if res.OK != st.ok || res.Used[0] != st.used {
				t.Errorf("step %d: Deduct(%d) = %v, %d; want %v, %d", i, st.cost, res.OK, res.Used[0], st.ok, st.used)
			}
		}
	})
	t.Run("sums above 2^53", func(t *testing.T) {
		wu := core.Window{Period: core.Month, Start: base, End: base + 31*day, Limit: core.Unlimited}
		for i := 1; i <= 3; i++ {
			res := deduct(t, s, mkop("sum", "l", max, d, wu))
			if want := core.Credits(i) * max; !res.OK || res.Used[0] != want {
				t.Errorf("Deduct #%d = %v, %d; want admitted, %d", i, res.OK, res.Used[0], want)
			}
		}
		res := deduct(t, s, mkop("sum", "l", 1, d, wu))
		if want := 3*max + 1; res.Used[0] != want {
			t.Errorf("Deduct of 1 = %d, want %d", res.Used[0], want)
		}
		// A limited window over that usage refuses any cost but zero.
		wl := wu
		wl.Limit = max
		if res := deduct(t, s, mkop("sum", "l", 1, d, wl)); res.OK || res.Used[0] != 3*max+1 {
			t.Errorf("Deduct with a limit below the usage = %v, %d; want refused, %d", res.OK, res.Used[0], 3*max+1)
		}
		if err := s.Refund(t.Context(), mkop("sum", "l", 2, d, wu)); err != nil {
			t.Fatalf("Refund: %v", err)
		}
		if got, want := used(t, s, "sum", wu), []core.Credits{3*max - 1}; !slices.Equal(got, want) {
			t.Errorf("Usage after the refund = %v, want %v", got, want)
		}
		recs, err := s.Report(t.Context(), core.ReportQuery{Client: "sum", From: base, To: base + day})
		if err != nil {
			t.Fatalf("Report: %v", err)
		}
		if len(recs) != 1 || recs[0].Credits != 3*max-1 || recs[0].Label != "l" {
			t.Errorf("Report = %+v, want one record of %d labelled l", recs, 3*max-1)
		}
		n, err := s.Delete(t.Context(), core.DeleteOp{Client: "sum", From: base, To: base + day, N: 1, List: [core.MaxQuotas]core.Window{wu}})
		if err != nil || n != 3*max-1 {
			t.Errorf("Delete = %d, %v; want %d", n, err, 3*max-1)
		}
		if got, want := used(t, s, "sum", wu), []core.Credits{0}; !slices.Equal(got, want) {
			t.Errorf("Usage after the delete = %v, want %v", got, want)
		}
	})
	t.Run("negative times", func(t *testing.T) {
		old := time.Date(1800, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		w := core.Window{Period: core.Day, Start: old, End: old + day, Limit: 10 * credit}
		od := core.DaySpan{Start: old, End: old + day}
		deduct(t, s, mkop("old", "", 4*credit, od, w))
		if res := deduct(t, s, mkop("old", "", 7*credit, od, w)); res.OK || res.Used[0] != 4*credit {
			t.Errorf("Deduct over the limit in 1800 = %v, %v; want refused, 4 credits", res.OK, res.Used[0])
		}
		recs, err := s.Report(t.Context(), core.ReportQuery{Client: "old", From: old - day, To: old + day})
		if err != nil || len(recs) != 1 || recs[0].Day != od {
			t.Errorf("Report in 1800 = %+v, %v; want one record of day %v", recs, err, od)
		}
	})
}

// TestExpiry checks that window counters expire after their window and the
// grace, and that day aggregates are pruned after the retention.
func TestExpiry(t *testing.T) {
	c := newClient(t)
	s := newStore(t, c, &Options{Retention: 3 * 24 * time.Hour, Grace: 10 * time.Second})
	base := future()
	w := core.Window{Period: core.Hour, Start: base, End: base + int64(time.Hour), Limit: core.Unlimited}
	for k := range int64(6) {
		deduct(t, s, mkop("c", "", credit, core.DaySpan{Start: base + k*day, End: base + (k+1)*day}, w))
	}
	keys := s.keys("c", []core.Window{w}, true)
	wantAt := time.Unix(0, w.End).Add(10 * time.Second)
	at, err := c.PExpireTime(t.Context(), keys[0]).Result()
	if err != nil {
		t.Fatalf("PEXPIRETIME: %v", err)
	}
	if got := time.UnixMilli(int64(at / time.Millisecond)); !got.Equal(wantAt.Truncate(time.Millisecond)) {
		t.Errorf("window counter expires at %v, want %v (window end + grace)", got, wantAt)
	}
	ttl, err := c.PTTL(t.Context(), keys[1]).Result()
	if err != nil {
		t.Fatalf("PTTL: %v", err)
	}
	if ttl != 4*24*time.Hour && (ttl < 4*24*time.Hour-time.Minute || ttl > 4*24*time.Hour) {
		t.Errorf("day aggregates expire in %v, want the retention plus a day", ttl)
	}
	recs, err := s.Report(t.Context(), core.ReportQuery{Client: "c", From: base - day, To: base + 10*day})
	if err != nil {
		t.Fatalf("Report: %v", err)
	}
	var days []int64
	for _, r := range recs {
		days = append(days, (r.Day.Start-base)/day)
	}
	slices.Sort(days)
	// On day 5, days that started more than 3 days before it are pruned.
	if want := []int64{2, 3, 4, 5}; !slices.Equal(days, want) {
		t.Errorf("days kept = %v, want %v", days, want)
	}

	t.Run("window end moves later", func(t *testing.T) {
		s := newStore(t, c, &Options{Grace: time.Second})
		w1 := core.Window{Period: core.Month, Start: base, End: base + 28*day, Limit: core.Unlimited}
		w2 := w1
		w2.End = base + 31*day // same start, later end: an anchor changed
		for _, w := range []core.Window{w1, w2, w1} {
			deduct(t, s, mkop("c", "", credit, core.DaySpan{Start: base, End: base + day}, w))
		}
		at, err := c.PExpireTime(t.Context(), s.keys("c", []core.Window{w1}, false)[0]).Result()
		want := time.Unix(0, w2.End).Add(time.Second).UnixMilli()
		if err != nil || int64(at/time.Millisecond) != want {
			t.Errorf("PEXPIRETIME = %v, %v; want %v (the later end + grace)", at, err, time.Duration(want)*time.Millisecond)
		}
		if got, want := used(t, s, "c", w2), []core.Credits{3 * credit}; !slices.Equal(got, want) {
			t.Errorf("Usage = %v, want %v", got, want)
		}
	})

	t.Run("ended window", func(t *testing.T) {
		// A window the caller's clock places in the past lives for the grace
		// after its last charge, not until its end.
		s := newStore(t, c, &Options{Grace: time.Hour})
		old := time.Now().Add(-48 * time.Hour).UnixNano()
		w := core.Window{Period: core.Day, Start: old, End: old + day, Limit: core.Unlimited}
		before := time.Now().Add(time.Hour).UnixMilli()
		deduct(t, s, mkop("c", "", credit, core.DaySpan{Start: old, End: old + day}, w))
		after := time.Now().Add(time.Hour).UnixMilli()
		at, err := c.PExpireTime(t.Context(), s.keys("c", []core.Window{w}, false)[0]).Result()
		if ms := int64(at / time.Millisecond); err != nil || ms < before || ms > after {
			t.Errorf("PEXPIRETIME = %v, %v; want between %d and %d ms (now + grace)", at, err, before, after)
		}
	})

	t.Run("kept for ever", func(t *testing.T) {
		s := newStore(t, c, &Options{Retention: -1})
		deduct(t, s, mkop("c", "", credit, core.DaySpan{Start: base, End: base + day}, w))
		ttl, err := c.PTTL(t.Context(), s.keys("c", nil, true)[0]).Result()
		if err != nil || ttl != -1 {
			t.Errorf("PTTL of the day aggregates = %v, %v; want -1 (no expiry)", ttl, err)
		}
	})
}

// TestScriptsReloaded checks that operations still work after the server
// lost its script cache (a restart, a failover, SCRIPT FLUSH).
func TestScriptsReloaded(t *testing.T) {
	c := newClient(t)
	s := newStore(t, c, nil)
	base := future()
	w := core.Window{Period: core.Minute, Start: base, End: base + int64(time.Minute), Limit: 10 * credit}
	d := core.DaySpan{Start: base, End: base + day}
	for i := range 3 {
		if err := c.ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: %v", err)
		}
		res := deduct(t, s, mkop("c", "", credit, d, w))
		if want := core.Credits(i+1) * credit; !res.OK || res.Used[0] != want {
			t.Errorf("Deduct #%d after SCRIPT FLUSH = %v, %v; want admitted, %v", i, res.OK, res.Used[0], want)
		}
	}
}

// TestCloseKeepsClient checks that closing the store fails its calls with
// ErrClosed and leaves the application's client open.
func TestCloseKeepsClient(t *testing.T) {
	c := newClient(t)
	s := newStore(t, c, nil)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	base := future()
	_, err := s.Deduct(t.Context(), mkop("c", "", credit, core.DaySpan{Start: base, End: base + day},
		core.Window{Period: core.Day, Start: base, End: base + day, Limit: credit}))
	if !errors.Is(err, core.ErrClosed) {
		t.Errorf("Deduct after Close: %v, want ErrClosed", err)
	}
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Errorf("the client after Close: %v, want it still open", err)
	}
}
