package mongo

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/faultproxy"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// ferretdbEnv names the FerretDB binary for the restart test; by default
// it is the one .ci/services builds into its cache.
const ferretdbEnv = "APIBILLING_FERRETDB"

// ferretdbBinary returns the FerretDB binary, or skips (fails with
// APIBILLING_REQUIRE_SERVICES=1) when there is none.
func ferretdbBinary(t *testing.T) string {
	t.Helper()
	p := os.Getenv(ferretdbEnv)
	if p == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		p = filepath.Join(cache, "apibilling", "ferretdb-v1.24.2")
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("no FerretDB binary at %s (%v), and %s=1 requires one: run .ci/services", p, err, requireEnv)
		}
		t.Skipf("\n\n*** SKIPPED: no FerretDB binary at %s (%v).\n*** Run .ci/services or set %s. ***\n\n", p, err, ferretdbEnv)
	}
	return p
}

// ferretdb is a FerretDB server of the test's own, on SQLite files in a
// folder of the test, which the test kills and starts again.
type ferretdb struct {
	bin, dir, addr string
	cmd            *exec.Cmd
}

// startFerretDB starts a FerretDB of the test's own on a free port.
func startFerretDB(t *testing.T) *ferretdb {
	t.Helper()
	f := &ferretdb{bin: ferretdbBinary(t), dir: t.TempDir()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	ln.Close()
	f.start(t)
	t.Cleanup(f.kill)
	return f
}

func (f *ferretdb) start(t *testing.T) {
	t.Helper()
	os.MkdirAll(filepath.Join(f.dir, "data"), 0o755)
	os.MkdirAll(filepath.Join(f.dir, "state"), 0o755)
	f.cmd = exec.Command(f.bin, "--handler=sqlite", "--sqlite-url=file:"+filepath.Join(f.dir, "data")+"/",
		"--state-dir="+filepath.Join(f.dir, "state"), "--listen-addr="+f.addr,
		"--debug-addr=-", "--telemetry=disable", "--log-level=error")
	f.cmd.Stdout, f.cmd.Stderr = os.Stderr, os.Stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatalf("starting FerretDB: %v", err)
	}
	c, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + f.addr).SetDirect(true))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx, readpref.Primary())
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("FerretDB on %s is not up after 30 s: %v", f.addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill kills the server at once (SIGKILL), as a crash does.
func (f *ferretdb) kill() {
	if f.cmd != nil && f.cmd.Process != nil {
		f.cmd.Process.Kill()
		f.cmd.Wait()
		f.cmd = nil
	}
}

// TestRestart kills the server (SIGKILL) while a store is in use, and
// starts it again on the same files. Invariants, in each layout: while the
// server is down every call fails with ErrStoreUnavailable within a bound;
// once it is back the same store works again; nothing acknowledged before
// the crash is lost (the usage is exactly the credits admitted), and an
// idempotency key recorded before it still replays.
func TestRestart(t *testing.T) {
	requireServer(t)
	for _, l := range []Layout{Updates, Versions} {
		t.Run(l.String(), func(t *testing.T) {
			f := startFerretDB(t)
			pool := uint64(16)
			if l == Updates {
				pool = 1 // see failureClient
			}
			c, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + f.addr).SetDirect(true).
				SetRetryWrites(false).SetConnectTimeout(2 * time.Second).SetMaxPoolSize(pool))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Disconnect(context.Background()) })
			s, err := New(t.Context(), c, &Options{Layout: l, Timeout: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			b := core.New(s)
			if err := b.SetQuotas("client", core.Quota{Period: core.Day, Limit: core.Whole(1000)}); err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			keyed := core.Charge{Client: "client", Cost: core.Whole(7), Label: "/k", IdempotencyKey: "before-the-crash"}
			if _, err := b.Charge(ctx, keyed); err != nil {
				t.Fatalf("keyed Charge: %v", err)
			}
			admitted := core.Whole(7)
			for range 50 {
				if _, err := b.Track(ctx, "client", core.Whole(1)); err != nil {
					t.Fatalf("Track: %v", err)
				}
				admitted = admitted.Add(core.Whole(1))
			}

			f.kill()
			for i := range 20 {
				start := time.Now()
				_, err := b.Track(ctx, "client", core.Whole(1))
				if !errors.Is(err, core.ErrStoreUnavailable) {
					t.Fatalf("Track %d with the server down: %v, want ErrStoreUnavailable", i, err)
				}
				if took := time.Since(start); took > maxFailureWait {
					t.Errorf("Track %d with the server down took %v", i, took)
				}
			}

			f.start(t)
			if err := faultproxy.Retry(func() error { _, err := b.Track(ctx, "client", core.Whole(1)); return err }); err != nil {
				t.Fatalf("Track after the restart: %v", err)
			}
			admitted = admitted.Add(core.Whole(1))
			out, err := b.Charge(ctx, keyed)
			if err != nil || !out.Replayed() {
				t.Errorf("the keyed charge again after the restart: Replayed %v, error %v; want a replay", out.Replayed(), err)
			}
			st, err := b.Status(ctx, "client")
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Quota(0).Used; got != admitted {
				t.Errorf("usage after the restart = %v, want the %v admitted", got, admitted)
			}
		})
	}
}
