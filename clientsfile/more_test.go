package clientsfile_test

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/frappy-go/apibilling/clientsfile"
	"github.com/frappy-go/apibilling/core"
)

// TestParseByteOrderMark checks that a file starting with a UTF-8
// byte-order mark, as some editors write, is read.
func TestParseByteOrderMark(t *testing.T) {
	f, err := clientsfile.Parse(append([]byte("\xef\xbb\xbf"), clientsfile.DemoJSON()...))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := f.ClientForKey("demo-key-1"); !ok || got != "client1" {
		t.Errorf("demo-key-1: %q, %v", got, ok)
	}
}

// TestDemo checks the built-in demo file against the specification.
func TestDemo(t *testing.T) {
	f, err := clientsfile.LoadOrDemo("")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"clients":[` +
		`{"id":"client1","keys":["demo-key-1"],"quotas":[{"period":"day","limit":500,"start":"2022-01-01T00:00:00Z"},{"period":"month","limit":10000,"start":"2022-01-01T00:00:00Z"}]},` +
		`{"id":"client2","keys":["demo-key-2"],"quotas":[{"period":"minute","limit":10,"start":"2022-01-01T00:00:00Z"},{"period":"day","limit":-1,"start":"2022-01-01T00:00:00+10:00"}]}]}`
	if string(out) != want {
		t.Errorf("demo clients:\n got %s\nwant %s", out, want)
	}
	for _, tc := range []struct{ key, client string }{{"demo-key-1", "client1"}, {"demo-key-2", "client2"}} {
		if got, ok := f.ClientForKey(tc.key); !ok || got != tc.client {
			t.Errorf("key %s: client %q, %v, want %s", tc.key, got, ok, tc.client)
		}
	}
	for _, k := range []string{"", "demo-key", "demo-key-10", "client1"} {
		if got, ok := f.ClientForKey(k); ok {
			t.Errorf("key %q found client %q", k, got)
		}
	}
}

// manyClients returns a file of n clients with a day quota each, in the zone
// tz ("" for none).
func manyClients(n int, tz string) []byte {
	var b strings.Builder
	b.WriteString(`{"clients":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		id := strconv.Itoa(i)
		b.WriteString(`{"id":"c` + id + `","keys":["k` + id + `"],"quotas":[{"period":"day","limit":500,"start":"2022-01-01T00:00:00+01:00"`)
		if tz != "" {
			b.WriteString(`,"tz":"` + tz + `"`)
		}
		b.WriteString(`}]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// heapAfterParse returns the live heap, in bytes, that a parsed file
// holds.
func heapAfterParse(t *testing.T, data []byte) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f, err := clientsfile.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(f)
	return after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
}

// TestZonesLoadedOnce checks that clients in one IANA zone share its
// Location: 10,000 clients in Europe/Berlin hold about what 10,000 clients
// without a zone hold, not 4 KB more each (40 MB).
func TestZonesLoadedOnce(t *testing.T) {
	const n = 10_000
	plain := heapAfterParse(t, manyClients(n, ""))
	zoned := heapAfterParse(t, manyClients(n, "Europe/Berlin"))
	if extra := int64(zoned) - int64(plain); extra > 1<<20 {
		t.Errorf("%d clients in Europe/Berlin hold %d bytes more than without a zone (%d, %d): zones are not shared", n, extra, zoned, plain)
	}
	f, err := clientsfile.Parse(manyClients(3, "Europe/Berlin"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Clients[0].Quotas[0].Anchor.Location(), f.Clients[2].Quotas[0].Anchor.Location()
	if a != b || a.String() != "Europe/Berlin" {
		t.Errorf("locations %p %s and %p %s, want one Europe/Berlin", a, a, b, b)
	}
}

// TestLimitsFollowParseCredits checks that a limit is read by the one
// decimal rule of core.ParseCredits.
func TestLimitsFollowParseCredits(t *testing.T) {
	for _, s := range []string{"0", "1", "0.5", "12.0000015", "0.0000005", "9007199254.740991"} {
		want, err := core.ParseCredits(s)
		if err != nil {
			t.Fatal(err)
		}
		f, err := clientsfile.Parse([]byte(`{"clients":[{"id":"c","keys":["k"],"quotas":[{"period":"day","limit":` + s + `}]}]}`))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := f.Clients[0].Quotas[0].Limit; got != want {
			t.Errorf("limit %s: %v, want %v", s, got, want)
		}
	}
}
