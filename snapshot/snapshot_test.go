package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/snapshot"
	"github.com/frappy-go/apibilling/stores/memory"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// populate charges a few clients, with odd IDs and labels, a key, and an
// alert threshold, through a Billing.
func populate(t *testing.T, s core.Store) {
	t.Helper()
	now := t0
	b := core.New(s, core.WithClock(func() time.Time { return now }),
		core.WithAlerts(func(core.Alert) {}, core.Threshold{Period: core.Day, Percent: 50}))
	for _, c := range []string{"client1", "a\x00b", "\xff\xfe", strings.Repeat("x", core.MaxClientIDLen)} {
		if err := b.SetQuotas(c,
			core.Quota{Period: core.Minute, Limit: core.Whole(100)},
			core.Quota{Period: core.Day, Limit: core.Whole(10)},
			core.Quota{Period: core.Month, Limit: core.Unlimited}); err != nil {
			t.Fatal(err)
		}
		for i, label := range []string{"/api/x", "", "\xc3\x28", "/api/x"} {
			now = t0.Add(time.Duration(i) * 90 * time.Minute)
			if _, err := b.Charge(t.Context(), core.Charge{Client: c, Label: label, Cost: core.MustParseCredits("1.5"),
				IdempotencyKey: []string{"", "k-1", "", ""}[i]}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// dump returns a store's records as sorted strings.
func dump(t *testing.T, s core.Store) []string {
	t.Helper()
	var out []string
	err := s.Export(t.Context(), func(r *core.Record) error {
		out = append(out, strings.ReplaceAll(strings.TrimSpace(strings.Join(strings.Fields(
			strings.ReplaceAll(fmtRecord(r), "\n", " ")), " ")), "  ", " "))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func fmtRecord(r *core.Record) string {
	var b strings.Builder
	b.WriteString(string(rune('0' + r.Kind)))
	b.WriteString("|" + r.Client + "|" + r.Period.String() + "|" + r.Label)
	for _, n := range []int64{r.Start, r.End, r.Used, int64(r.Fired), r.Key.Cost, r.Key.At, r.Key.Expires, int64(r.Key.N)} {
		b.WriteString("|" + time.Duration(n).String())
	}
	b.WriteString("|" + r.Key.Key + "|" + r.Key.Label)
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	src := memory.New()
	populate(t, src)
	var buf bytes.Buffer
	wc, err := snapshot.Write(t.Context(), &buf, src)
	if err != nil {
		t.Fatal(err)
	}
	if wc.Windows != 12 || wc.Keys != 4 || wc.Usage == 0 || wc.Credits != 4*4*1_500_000 {
		t.Errorf("written %+v", wc)
	}
	dst := memory.New()
	rc, err := snapshot.Read(t.Context(), bytes.NewReader(buf.Bytes()), dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rc != wc {
		t.Errorf("read %+v, wrote %+v", rc, wc)
	}
	if a, b := dump(t, src), dump(t, dst); !slices.Equal(a, b) {
		t.Errorf("after the round trip:\n%s\nwant\n%s", strings.Join(b, "\n"), strings.Join(a, "\n"))
	}
	// A second import into the now non-empty store is refused; merging
	// doubles the usage.
	if _, err := snapshot.Read(t.Context(), bytes.NewReader(buf.Bytes()), dst, nil); !errors.Is(err, core.ErrNotEmpty) {
		t.Errorf("import into a non-empty store: %v, want core.ErrNotEmpty", err)
	}
	if _, err := snapshot.Read(t.Context(), bytes.NewReader(buf.Bytes()), dst, &snapshot.Options{Merge: true}); err != nil {
		t.Fatal(err)
	}
	var merged bytes.Buffer
	mc, err := snapshot.Write(t.Context(), &merged, dst)
	if err != nil {
		t.Fatal(err)
	}
	if mc.Credits != 2*wc.Credits {
		t.Errorf("merged credits %d, want %d", mc.Credits, 2*wc.Credits)
	}
}

// failingReader returns an error after n bytes.
type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk unplugged")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	k, err := f.r.Read(p)
	f.n -= k
	return k, err
}

// TestResume: an import interrupted half-way resumes when the same file
// is read again, and the result equals a clean import.
func TestResume(t *testing.T) {
	src := memory.New()
	populate(t, src)
	var buf bytes.Buffer
	if _, err := snapshot.Write(t.Context(), &buf, src); err != nil {
		t.Fatal(err)
	}
	dst := memory.New()
	_, err := snapshot.Read(t.Context(), &failingReader{bytes.NewReader(buf.Bytes()), buf.Len() / 2}, dst, nil)
	if err == nil {
		t.Fatal("an interrupted import reported success")
	}
	if _, err := snapshot.Read(t.Context(), bytes.NewReader(buf.Bytes()), dst, nil); err != nil {
		t.Fatalf("resuming: %v", err)
	}
	if a, b := dump(t, src), dump(t, dst); !slices.Equal(a, b) {
		t.Errorf("after resuming:\n%s\nwant\n%s", strings.Join(b, "\n"), strings.Join(a, "\n"))
	}
	// Another snapshot is refused by the half-written store.
	other := memory.New()
	_, _ = snapshot.Read(t.Context(), &failingReader{bytes.NewReader(buf.Bytes()), buf.Len() / 2}, other, nil)
	var buf2 bytes.Buffer
	snapshot.Write(t.Context(), &buf2, src) // a new ID
	if _, err := snapshot.Read(t.Context(), bytes.NewReader(buf2.Bytes()), other, nil); !errors.Is(err, core.ErrNotEmpty) {
		t.Errorf("another snapshot into a half-written store: %v, want core.ErrNotEmpty", err)
	}
}

func TestRefusesDamagedFiles(t *testing.T) {
	src := memory.New()
	populate(t, src)
	var buf bytes.Buffer
	if _, err := snapshot.Write(t.Context(), &buf, src); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(buf.String(), "\n"), "\n")
	cases := map[string]string{
		"empty":          "",
		"no header":      strings.Join(lines[1:], ""),
		"no trailer":     strings.Join(lines[:len(lines)-1], ""),
		"a record lost":  strings.Join(append(slices.Clone(lines[:2]), lines[3:]...), ""),
		"newer version":  strings.Replace(buf.String(), `"version":1`, `"version":2`, 1),
		"bad amount":     strings.Replace(buf.String(), `"used":1.5`, `"used":1.5000001`, 1),
		"data after end": buf.String() + lines[1],
		"garbage":        "\x00\x01\x02",
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := snapshot.Read(context.Background(), strings.NewReader(data), memory.New(), nil)
			if !errors.Is(err, snapshot.ErrFormat) {
				t.Errorf("Read: %v, want snapshot.ErrFormat", err)
			}
		})
	}
}
