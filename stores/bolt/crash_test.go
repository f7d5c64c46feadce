package bolt

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// The crash test runs this test binary again as a child process that
// deducts through core.Billing from many goroutines and reports every
// acknowledged deduction on stdout, and kills it with SIGKILL at a random
// moment. The child is configured through these environment variables.
const (
	envCrashPath     = "APIBILLING_BOLT_CRASH_PATH"
	envCrashInterval = "APIBILLING_BOLT_CRASH_INTERVAL" // empty: durable mode
	envCrashCkBytes  = "APIBILLING_BOLT_CRASH_CKBYTES"  // checkpoint threshold in log bytes; empty: the default
	crashGoroutines  = 16
	crashClient      = "crash-client"
)

var crashNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func crashBilling(t *testing.T, s *Store) *core.Billing {
	b := core.New(s, core.WithClock(func() time.Time { return crashNow }))
	err := b.SetQuotas(crashClient,
		core.Quota{Period: core.Day, Limit: core.Unlimited},
		core.Quota{Period: core.Month, Limit: core.MaxCredits})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCrashChild is the child process of TestCrash; it does nothing in a
// normal run. It writes one line "A" per acknowledged deduction of one
// credit and, in the interval mode, a line "C n" after each completed
// commit whose snapshot was taken when n deductions had been acknowledged.
// It never ends by itself before it is killed (its loops are bounded all
// the same).
func TestCrashChild(t *testing.T) {
	path := os.Getenv(envCrashPath)
	if path == "" {
		t.Skip("the child process of TestCrash")
	}
	var out sync.Mutex
	say := func(line string) {
		out.Lock()
		defer out.Unlock()
		os.Stdout.WriteString(line) // unbuffered: the parent has every line written before the kill
	}
	var acked atomic.Int64
	var atSnapshot int64
	opts := &Options{hooks: &testHooks{
		snapshot:  func() { atSnapshot = acked.Load() },
		committed: func() { say("C " + strconv.FormatInt(atSnapshot, 10) + "\n") },
	}}
	if v := os.Getenv(envCrashCkBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		opts.hooks.ckBytes = n
	}
	if v := os.Getenv(envCrashInterval); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		opts.CommitInterval = d
	}
	s, err := Open(path, opts)
	if err != nil {
		say("E " + err.Error() + "\n")
		t.Fatal(err)
	}
	b := crashBilling(t, s)
	var wg sync.WaitGroup
	deadline := time.Now().Add(time.Minute)
	for range crashGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10_000_000 {
				if time.Now().After(deadline) {
					return
				}
				if _, err := b.Track(context.Background(), crashClient, core.Whole(1)); err != nil {
					say("E " + err.Error() + "\n")
					return
				}
				acked.Add(1)
				say("A\n")
			}
		}()
	}
	wg.Wait()
}

// TestCrash kills a child that deducts under load at a random moment, in
// several rounds, and checks what the file holds afterwards.
//
// Invariants: in the durable mode, acknowledged <= persisted <=
// acknowledged + in flight, where in flight is the number of the child's
// goroutines (each has at most one deduction between its commit and its
// report). In the interval mode, persisted >= the deductions acknowledged
// before the snapshot of the last completed commit (the most it can lose is
// what came after), and persisted <= acknowledged + in flight. The file
// passes bbolt's consistency check.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	// The rounds with a small checkpoint threshold write the log into the
	// file many times a second, so that the kill also lands inside
	// checkpoints and the replay of a log that a checkpoint had partly
	// written is tested.
	rounds := []struct {
		name     string
		interval string
		ckBytes  string
	}{
		{"durable", "", ""}, {"durable", "", ""},
		{"durable-checkpoints", "", "32768"}, {"durable-checkpoints", "", "4096"},
		{"interval", "5ms", ""},
		{"interval-checkpoints", "5ms", "32768"}, {"interval-checkpoints", "5ms", "4096"},
	}
	for i, r := range rounds {
		t.Run(fmt.Sprintf("%s-%d", r.name, i), func(t *testing.T) {
			crashRound(t, r.interval, r.ckBytes)
		})
	}
}

func crashRound(t *testing.T, interval, ckBytes string) {
	path := filepath.Join(t.TempDir(), "usage.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashPath+"="+path, envCrashInterval+"="+interval, envCrashCkBytes+"="+ckBytes)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// The reader counts the child's lines until the pipe closes.
	type counts struct {
		acked, committed int64
		errs             []string
	}
	started := make(chan struct{})
	done := make(chan counts, 1)
	go func() {
		var c counts
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "A":
				if c.acked == 0 {
					close(started)
				}
				c.acked++
			case strings.HasPrefix(line, "C "):
				n, err := strconv.ParseInt(line[2:], 10, 64)
				if err != nil {
					c.errs = append(c.errs, line)
				}
				c.committed = n
			case strings.HasPrefix(line, "E "):
				c.errs = append(c.errs, line)
			}
		}
		if c.acked == 0 {
			close(started)
		}
		done <- c
	}()

	<-started
	time.Sleep(time.Duration(50+rand.IntN(250)) * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c := <-done
	_ = cmd.Wait() // killed: the error says so
	for _, e := range c.errs {
		t.Errorf("child: %s", e)
	}
	if c.acked == 0 {
		t.Fatalf("the child acknowledged nothing; stderr:\n%s", stderr.String())
	}

	checkFile(t, path)
	s, err := Open(path, nil)
	if err != nil {
		t.Fatalf("reopen after the crash: %v", err)
	}
	defer s.Close()
	o, err := crashBilling(t, s).Status(context.Background(), crashClient)
	if err != nil {
		t.Fatal(err)
	}
	persisted := o.Quota(0).Used.Micro() / credit
	if month := o.Quota(1).Used.Micro() / credit; month != persisted {
		t.Errorf("day window holds %d credits, month window %d: a commit was torn", persisted, month)
	}
	low := c.acked
	if interval != "" {
		low = c.committed
	}
	total, err := crashBilling(t, s).TotalUsage(context.Background(), crashClient, crashNow.Add(-time.Hour), crashNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := total.Micro() / credit; got != persisted {
		t.Errorf("the hour aggregate holds %d credits, the windows %d: a commit was torn", got, persisted)
	}
	t.Logf("acknowledged %d, persisted %d, lower bound %d, in flight at most %d", c.acked, persisted, low, crashGoroutines)
	if persisted < low {
		t.Errorf("persisted %d credits, fewer than the %d that must be on disk (acknowledged %d)", persisted, low, c.acked)
	}
	if persisted > c.acked+crashGoroutines {
		t.Errorf("persisted %d credits, more than acknowledged %d + in flight %d", persisted, c.acked, crashGoroutines)
	}
}
