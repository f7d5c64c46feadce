package redis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
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

// needRedis skips or fails the test when the test Redis cannot be reached.
func needRedis(t testing.TB) {
	t.Helper()
	addr := redisAddr()
	if err := probe(addr); err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("no Redis at %s (%v), and %s=1 requires one", addr, err, requireEnv)
		}
		t.Skipf("\n\n*** SKIPPED: no Redis at %s (%v).\n*** Start one or set %s; %s=1 fails instead of skipping. ***\n\n", addr, err, addrEnv, requireEnv)
	}
}

// newClient returns a client of the test Redis, closed when the test ends;
// it skips or fails the test when Redis cannot be reached.
func newClient(t testing.TB) *goredis.Client {
	t.Helper()
	needRedis(t)
	c := goredis.NewClient(&goredis.Options{Addr: redisAddr(), ContextTimeoutEnabled: true, PoolSize: 80})
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := scanKeys(ctx, c, prefix)
	for len(keys) > 0 && err == nil {
		n := min(len(keys), 1000)
		err = c.Unlink(ctx, keys[:n]...).Err()
		keys = keys[n:]
	}
	if err != nil {
		t.Errorf("deleting the keys under %q: %v", prefix, err)
	}
}

// scanKeys returns every key under prefix.
func scanKeys(ctx context.Context, c goredis.UniversalClient, prefix string) ([]string, error) {
	var keys []string
	iter := c.Scan(ctx, 0, globEscape(prefix)+":*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// TestConformance runs the shared store suite against Redis, each store
// under a prefix of its own.
func TestConformance(t *testing.T) {
	c := newClient(t)
	storetest.RunWithOptions(t, func(t *testing.T) core.Store {
		// The suite closes the store; the client stays open for the others.
		return newStore(t, c, &Options{Timeout: 10 * time.Second})
	}, storetest.Options{
		Retention: func(t *testing.T, d time.Duration) core.Store {
			return newStore(t, c, &Options{Timeout: 10 * time.Second, Retention: d})
		},
	})
}

const (
	credit = int64(1_000_000)
	hour   = int64(time.Hour)
	day    = 24 * hour
)

// future is a UTC midnight two days ahead, where the tests' windows start.
func future() int64 {
	return time.Now().UTC().Truncate(24 * time.Hour).Add(48 * time.Hour).UnixNano()
}

// hourAt returns the hour bucket starting at t.
func hourAt(t int64) core.Span { return core.Span{Start: t, End: t + hour} }

func mkop(client, label string, cost int64, b core.Span, ws ...core.Window) *core.Op {
	o := &core.Op{Client: client, Label: label, Cost: cost, Bucket: b, At: b.Start, N: len(ws)}
	copy(o.List[:], ws)
	return o
}

func used(t *testing.T, s *Store, client string, ws ...core.Window) []int64 {
	t.Helper()
	res, err := s.Usage(t.Context(), mkop(client, "", 0, core.Span{}, ws...))
	if err != nil {
		t.Fatalf("Usage(%q): %v", client, err)
	}
	return slices.Clone(res.Used[:len(ws)])
}

func deduct(t *testing.T, s *Store, o *core.Op) core.Result {
	t.Helper()
	res, err := s.Deduct(t.Context(), o)
	if err != nil {
		t.Fatalf("Deduct(%q, %v): %v", o.Client, o.Cost, err)
	}
	return res
}

func report(t *testing.T, s *Store, client string, from, to int64) []core.UsageRecord {
	t.Helper()
	recs, err := s.Report(t.Context(), core.ReportQuery{Client: client, From: from, To: to})
	if err != nil {
		t.Fatalf("Report(%q): %v", client, err)
	}
	slices.SortFunc(recs, func(a, b core.UsageRecord) int {
		if a.Bucket.Start != b.Bucket.Start {
			return compare(a.Bucket.Start, b.Bucket.Start)
		}
		return strings.Compare(a.Label, b.Label)
	})
	return recs
}

func compare(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
		{"all set", good, &Options{Prefix: "x:y", Timeout: time.Second, AdminTimeout: time.Minute, Retention: -1, Grace: time.Second}, true},
		{"nil client", nil, nil, false},
		{"no context timeouts", plain, nil, false},
		{"prefix with {", good, &Options{Prefix: "a{b"}, false},
		{"prefix with }", good, &Options{Prefix: "a}b"}, false},
		{"negative timeout", good, &Options{Timeout: -time.Second}, false},
		{"negative admin timeout", good, &Options{AdminTimeout: -time.Second}, false},
		{"negative grace", good, &Options{Grace: -time.Second}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(c.client, c.opts)
			if got := err == nil; got != c.ok {
				t.Fatalf("New: error %v, want ok=%v", err, c.ok)
			}
			if c.ok && c.opts == nil && (s.Prefix() != DefaultPrefix || s.timeout != DefaultTimeout) {
				t.Errorf("Prefix(), timeout = %q, %v; want %q, %v", s.Prefix(), s.timeout, DefaultPrefix, DefaultTimeout)
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

// keyIDs are client IDs that stress the key encoding.
var keyIDs = []string{"", "a", "a{b", "a}b", "{", "}", "}{", "%", "%7B", "%7D", "%25", "a:b", "a\x00b", "a\x00", "a:{x}:d:1", strings.Repeat("}", core.MaxClientIDLen)}

// TestClientKeys checks that the client hash of every ID has a hash tag of
// its own, that no two IDs share one, and that the ID reads back from it.
func TestClientKeys(t *testing.T) {
	s := &Store{prefix: "p"}
	seen := map[string]string{}
	for _, id := range keyIDs {
		h, k := s.clientKeys(id, "key}{")
		if h2, _ := s.clientKeys(id, ""); h2 != h {
			t.Errorf("clientKeys(%q) with and without a key: %q and %q", id, h, h2)
		}
		tag := hashTag(h)
		if tag == h || hashTag(k) != tag {
			t.Errorf("clientKeys(%q) = %q, %q: want one hash tag", id, h, k)
		}
		if other, ok := seen[tag]; ok {
			t.Errorf("IDs %q and %q share the tag %q", id, other, tag)
		}
		seen[tag] = id
		if got, ok := clientOf(h, "p"); !ok || got != id {
			t.Errorf("clientOf(%q) = %q, %v; want %q", h, got, ok, id)
		}
		if _, ok := clientOf(k, "p"); ok {
			t.Errorf("clientOf(%q) takes a key record for a client hash", k)
		}
	}
}

// TestKeysShareTag runs every operation for IDs that stress the key
// encoding and checks that every key the scripts write carries the
// client's hash tag (one Cluster slot per client), and that each client
// sees only its own usage.
func TestKeysShareTag(t *testing.T) {
	c := newClient(t)
	s := newStore(t, c, nil)
	base := future()
	w := core.Window{Period: core.Hour, Start: base, End: base + hour, Limit: 1000 * credit}
	for i, id := range keyIDs {
		for k := range int64(3) {
			o := mkop(id, "route", int64(i+1)*credit, hourAt(base+k*day), w)
			o.Key, o.KeyExpires = fmt.Sprintf("key-%d}{", k), o.At+day
			deduct(t, s, o)
		}
	}
	for i, id := range keyIDs {
		if got, want := used(t, s, id, w), []int64{3 * int64(i+1) * credit}; !slices.Equal(got, want) {
			t.Errorf("Usage(%q) = %v, want %v", id, got, want)
		}
	}
	keys, err := scanKeys(t.Context(), c, s.Prefix())
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]bool{}
	for _, id := range keyIDs {
		h, _ := s.clientKeys(id, "")
		tags[hashTag(h)] = true
	}
	kinds := map[string]int{}
	for _, k := range keys {
		if !tags[hashTag(k)] {
			t.Errorf("key %q has the hash tag %q of no client", k, hashTag(k))
		}
		rest := k[strings.Index(k, "}")+1:]
		kind, _, _ := strings.Cut(strings.TrimPrefix(rest, ":"), ":")
		kinds[kind]++
	}
	n := len(keyIDs)
	// Each client: its hash, two day hashes, the day index, three key
	// records and the key index.
	if want := map[string]int{"": n, "d": 2 * n, "i": n, "k": 3 * n, "ki": n}; fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("keys by kind = %v, want %v", kinds, want)
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
	b := core.Span{Start: base, End: base + hour}
	if res := deduct(t, s, mkop("c", "", 5*credit, b, w0)); !res.OK {
		t.Fatalf("filling the first window refused")
	}
	// The window starting 1 ns later is new: it has room again.
	res := deduct(t, s, mkop("c", "", 2*credit, b, w1))
	if !res.OK || res.Used[0] != 2*credit {
		t.Errorf("Deduct in the window 1 ns later = %v, %v; want admitted with 2 credits used", res.OK, res.Used[0])
	}
	// The older window is now counted against the newer one.
	if got, want := used(t, s, "c", w0), []int64{2 * credit}; !slices.Equal(got, want) {
		t.Errorf("Usage of the older window = %v, want %v", got, want)
	}
	// A refund for the older window finds no counter of its own.
	if err := s.Refund(t.Context(), mkop("c", "", credit, b, w0)); err != nil {
		t.Fatalf("Refund: %v", err)
	}
	if got, want := used(t, s, "c", w1), []int64{2 * credit}; !slices.Equal(got, want) {
		t.Errorf("Usage after refunding the older window = %v, want %v", got, want)
	}
	// An hour starting 1 ns later is another aggregate.
	deduct(t, s, mkop("c", "", credit, core.Span{Start: base + 1, End: base + 1 + hour}, w1))
	// Report bounds are exact to the nanosecond too.
	if recs := report(t, s, "c", base+1, base+day); len(recs) != 1 || recs[0].Bucket.Start != base+1 || recs[0].Credits != credit {
		t.Errorf("Report from 1 ns after the first hour's start = %+v, want the later hour's %d", recs, credit)
	}
	if recs := report(t, s, "c", base, base+1); len(recs) != 1 || recs[0].Bucket != b || recs[0].Credits != 6*credit {
		t.Errorf("Report of the first hour's first nanosecond = %+v, want one record of %v on %v", recs, 6*credit, b)
	}
}

// TestExactCredits checks credits at and beyond 2^53, where a double would
// round: limits at MaxCredits, usage sums of unlimited windows and hour
// aggregates above it, and negative times.
func TestExactCredits(t *testing.T) {
	s := newStore(t, newClient(t), nil)
	base := future()
	maxc := core.MaxCredits.Micro()
	b := hourAt(base)
	t.Run("limit MaxCredits", func(t *testing.T) {
		w := core.Window{Period: core.Day, Start: base, End: base + day, Limit: maxc}
		steps := []struct {
			cost int64
			ok   bool
			used int64
		}{
			{maxc - 1, true, maxc - 1},
			{2, false, maxc - 1},
			{1, true, maxc},
			{1, false, maxc},
			{0, true, maxc},
		}
		for i, st := range steps {
			res := deduct(t, s, mkop("limit", "", st.cost, b, w))
			if res.OK != st.ok || res.Used[0] != st.used {
				t.Errorf("step %d: Deduct(%d) = %v, %d; want %v, %d", i, st.cost, res.OK, res.Used[0], st.ok, st.used)
			}
		}
	})
	t.Run("sums above 2^53", func(t *testing.T) {
		wu := core.Window{Period: core.Month, Start: base, End: base + 31*day, Limit: -1}
		for i := int64(1); i <= 3; i++ {
			res := deduct(t, s, mkop("sum", "l", maxc, b, wu))
			if want := i * maxc; !res.OK || res.Used[0] != want {
				t.Errorf("Deduct #%d = %v, %d; want admitted, %d", i, res.OK, res.Used[0], want)
			}
		}
		res := deduct(t, s, mkop("sum", "l", 1, b, wu))
		if want := 3*maxc + 1; res.Used[0] != want {
			t.Errorf("Deduct of 1 = %d, want %d", res.Used[0], want)
		}
		// A limited window over that usage refuses any cost but zero.
		wl := wu
		wl.Limit = maxc
		if res := deduct(t, s, mkop("sum", "l", 1, b, wl)); res.OK || res.Used[0] != 3*maxc+1 {
			t.Errorf("Deduct with a limit below the usage = %v, %d; want refused, %d", res.OK, res.Used[0], 3*maxc+1)
		}
		if err := s.Refund(t.Context(), mkop("sum", "l", 2, b, wu)); err != nil {
			t.Fatalf("Refund: %v", err)
		}
		if got, want := used(t, s, "sum", wu), []int64{3*maxc - 1}; !slices.Equal(got, want) {
			t.Errorf("Usage after the refund = %v, want %v", got, want)
		}
		recs := report(t, s, "sum", base, base+day)
		if len(recs) != 1 || recs[0].Credits != 3*maxc-1 || recs[0].Label != "l" {
			t.Errorf("Report = %+v, want one record of %d labelled l", recs, 3*maxc-1)
		}
		n, err := s.Delete(t.Context(), &core.DeleteOp{Client: "sum", From: base, To: base + day, N: 1, List: [core.MaxQuotas]core.Window{wu}})
		if err != nil || n != 3*maxc-1 {
			t.Errorf("Delete = %d, %v; want %d", n, err, 3*maxc-1)
		}
		if got, want := used(t, s, "sum", wu), []int64{0}; !slices.Equal(got, want) {
			t.Errorf("Usage after the delete = %v, want %v", got, want)
		}
	})
	t.Run("negative times", func(t *testing.T) {
		old := time.Date(1800, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		w := core.Window{Period: core.Day, Start: old, End: old + day, Limit: 10 * credit}
		ob := hourAt(old)
		deduct(t, s, mkop("old", "", 4*credit, ob, w))
		if res := deduct(t, s, mkop("old", "", 7*credit, ob, w)); res.OK || res.Used[0] != 4*credit {
			t.Errorf("Deduct over the limit in 1800 = %v, %v; want refused, 4 credits", res.OK, res.Used[0])
		}
		deduct(t, s, mkop("old", "", credit, hourAt(old+hour), w)) // the first hour moves to its day
		if recs := report(t, s, "old", old-day, old+day); len(recs) != 2 || recs[0].Bucket != ob || recs[0].Credits != 4*credit {
			t.Errorf("Report in 1800 = %+v; want 4 credits in hour %v, then 1", recs, ob)
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
	for i := range int64(3) {
		if err := c.ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: %v", err)
		}
		res := deduct(t, s, mkop("c", "", credit, hourAt(base), w))
		if want := (i + 1) * credit; !res.OK || res.Used[0] != want {
			t.Errorf("Deduct #%d after SCRIPT FLUSH = %v, %v; want admitted, %v", i, res.OK, res.Used[0], want)
		}
	}
	if got := s.Stats().ScriptLoads; got < 3 {
		t.Errorf("Stats().ScriptLoads = %d, want at least 3", got)
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
	_, err := s.Deduct(t.Context(), mkop("c", "", credit, hourAt(base),
		core.Window{Period: core.Day, Start: base, End: base + day, Limit: credit}))
	if !errors.Is(err, core.ErrClosed) || !errors.Is(err, core.ErrStoreUnavailable) {
		t.Errorf("Deduct after Close: %v, want ErrClosed and ErrStoreUnavailable", err)
	}
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Errorf("the client after Close: %v, want it still open", err)
	}
}

// TestNoWindows charges an op without windows: only the hour's usage
// counts it, and every reply shape (the fast path's, replays) still reads
// back, for 0, 1 and 2 windows.
func TestNoWindows(t *testing.T) {
	s := newStore(t, newClient(t), nil)
	base := future()
	w := core.Window{Period: core.Day, Start: base, End: base + day, Limit: -1}
	for n, ws := range [][]core.Window{nil, {w}, {w, {Period: core.Month, Start: base, End: base + 31*day, Limit: -1}}} {
		client := fmt.Sprint("n", n)
		for i := range 3 {
			res := deduct(t, s, mkop(client, "/x", credit, hourAt(base), ws...))
			if !res.OK || (n > 0 && res.Used[0] != int64(i+1)*credit) {
				t.Errorf("%d windows, charge %d: OK %v, Used %v", n, i, res.OK, res.Used[:n])
			}
		}
		o := mkop(client, "/x", credit, hourAt(base), ws...)
		o.Key, o.KeyExpires = "k", o.At+day
		deduct(t, s, o)
		if res := deduct(t, s, o); !res.Replayed || res.Record == nil || res.Record.N != n {
			t.Errorf("%d windows: the retry = %+v, want a replay of the recorded charge", n, res)
		}
		if recs := report(t, s, client, base, base+day); len(recs) != 1 || recs[0].Credits != 4*credit {
			t.Errorf("%d windows: report = %+v, want 4 credits in one aggregate", n, recs)
		}
	}
}

// TestOverExact checks the scripts' exact overflow test, u + c > MaxUsage
// on a decimal u and a cost c below 2^53, against core.Overflows at the
// boundaries where doubles would round: costs near multiples of 10^15 and
// 2^53, usage of 15 to 19 digits.
func TestOverExact(t *testing.T) {
	c := newClient(t)
	sc := newScript("over", `
local out = {}
for i = 1, #ARGV, 2 do
  out[#out + 1] = L().over(ARGV[i], tonumber(ARGV[i + 1])) and 1 or 0
end
return out
`)
	maxc := core.MaxCredits.Micro()
	costs := []int64{0, 1, 2, 999_999_999_999_999, 1_000_000_000_000_000, 1_000_000_000_000_001, 3*1e15 - 1, 8_999_999_999_999_999, maxc - 1, maxc}
	var args []any
	var want []bool
	for _, cost := range costs {
		for _, u := range []int64{0, 1, 999_999_999_999_999, 1e15, 1e18 - 1, 1e18, core.MaxUsage - cost - 1, core.MaxUsage - cost, core.MaxUsage - cost + 1, core.MaxUsage - 1, core.MaxUsage} {
			if u < 0 {
				continue
			}
			args = append(args, strconv.FormatInt(u, 10), strconv.FormatInt(cost, 10))
			want = append(want, core.Overflows(u, cost))
		}
	}
	got, err := c.Eval(t.Context(), sc.src, nil, args...).Int64Slice()
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range got {
		if (g == 1) != want[i] {
			t.Errorf("over(%s, %s) = %v, want %v", args[2*i], args[2*i+1], g == 1, want[i])
		}
	}
}
