package bolt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// The damage tests open damaged copies of a real store file in a child
// process (this test binary run again), so that a crash (a SIGBUS inside
// bbolt, a stack overflow) or a hang fails the test instead of killing it.
const (
	envDamageMode = "APIBILLING_BOLT_DAMAGE"     // "sizes" or "random"
	envDamageSrc  = "APIBILLING_BOLT_DAMAGE_SRC" // the good file
)

// TestDamagedFiles runs TestDamagedFilesChild on every length of a real
// store file from 0 bytes to its whole size (every byte for the first
// three pages, every 16 bytes after), and on random damage: bit flips,
// zeroed pages, pages of random bytes, truncations. Invariant: every Open
// fails with ErrCorrupt (or ErrForeign or ErrNewerFormat, when the damage
// hits the store's bucket name or format version), or succeeds; after a
// successful Open, every call (Usage, Deduct, Report, Export, Close) and
// Check succeed or fail with ErrCorrupt. Nothing crashes or hangs.
func TestDamagedFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	src := filepath.Join(t.TempDir(), "good.db")
	write(t, src, goodFile(t))
	child := childBinary(t)
	for _, mode := range []string{"sizes", "random"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, child, "-test.run=^TestDamagedFilesChild$", "-test.count=1", "-test.v", "-test.timeout=4m")
			cmd.Env = append(os.Environ(), envDamageMode+"="+mode, envDamageSrc+"="+src)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var last, summary string
			var lines []string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "try "):
					last = line
				case strings.HasPrefix(line, "summary "):
					summary = line
				default:
					lines = append(lines, line)
				}
			}
			err = cmd.Wait()
			if err != nil || summary == "" {
				tail := lines[max(0, len(lines)-40):]
				t.Fatalf("child: %v at %q\n%s\nstderr:\n%.4000s", err, last, strings.Join(tail, "\n"), stderr.String())
			}
			t.Log(summary)
		})
	}
}

// childBinary returns the test binary the child of TestDamagedFiles runs:
// this one, or, when this one is built with -race, the package's tests
// built without it. The race detector turns on checkptr, which ends the
// process with a fatal error (that no recover sees) where bbolt's pointer
// arithmetic on a damaged page points outside an allocation; the child
// must meet a damaged file as a program does, where such a read is a
// fault that [safely] turns into ErrCorrupt, or a read of bytes that the
// checks then refuse.
func childBinary(t *testing.T) string {
	if !raceEnabled {
		return os.Args[0]
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("a -race build needs the go command to build the child without -race: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "child.test")
	cmd := exec.Command(gobin, "test", "-c", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the child without -race: %v\n%s", err, out)
	}
	return bin
}

// TestDamagedFilesChild is the child process of TestDamagedFiles; it does
// nothing in a normal run.
func TestDamagedFilesChild(t *testing.T) {
	mode := os.Getenv(envDamageMode)
	if mode == "" {
		t.Skip("the child process of TestDamagedFiles")
	}
	good, err := os.ReadFile(os.Getenv(envDamageSrc))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	outcomes := map[string]int{}
	n := 0
	try := func(desc string, b []byte) {
		n++
		path := filepath.Join(dir, fmt.Sprintf("f%d.db", n))
		write(t, path, b)
		write(t, path+".orig", b)
		fmt.Printf("try %d %s: %s\n", n, desc, path)
		outcome, err := openDamaged(path)
		if err != nil {
			t.Errorf("%s: %v", desc, err)
		}
		outcomes[outcome]++
		os.Remove(path)
		os.Remove(path + ".orig")
		if seqs, _ := segments(path); len(seqs) > 0 {
			removeSegments(path, 1<<63)
		}
	}
	const page = 4096
	switch mode {
	case "sizes":
		for size := 0; size <= len(good); size++ {
			if size > 3*page && size%16 != 0 && size != len(good) {
				continue
			}
			try(fmt.Sprintf("truncated to %d bytes", size), good[:size])
		}
	case "random":
		rng := rand.New(rand.NewPCG(11, uint64(time.Now().UnixNano())))
		pages := len(good) / page
		for i := range 600 {
			b := append([]byte(nil), good...)
			var desc string
			switch i % 5 {
			case 0:
				k := 1 + rng.IntN(8)
				for range k {
					j := rng.IntN(len(b))
					b[j] ^= 1 << rng.IntN(8)
				}
				desc = fmt.Sprintf("%d bits flipped", k)
			case 1:
				p := rng.IntN(pages)
				clear(b[p*page : (p+1)*page])
				desc = fmt.Sprintf("page %d zeroed", p)
			case 2:
				p := rng.IntN(pages)
				for j := p * page; j < (p+1)*page; j++ {
					b[j] = byte(rng.Uint32())
				}
				desc = fmt.Sprintf("page %d random", p)
			case 3:
				size := rng.IntN(len(b))
				b = b[:size]
				desc = fmt.Sprintf("truncated to %d bytes", size)
			case 4:
				p := 2 + rng.IntN(pages-2) // a data page
				k := 1 + rng.IntN(16)
				for range k {
					j := p*page + rng.IntN(page)
					b[j] ^= 1 << rng.IntN(8)
				}
				desc = fmt.Sprintf("%d bits flipped in page %d", k, p)
			}
			try(desc, b)
		}
	}
	fmt.Printf("summary %d files: %v\n", n, outcomes)
}

// openDamaged opens the file at path and uses it; it returns how it went
// and an error if anything other than success or ErrCorrupt came out.
func openDamaged(path string) (outcome string, err error) {
	acceptable := func(err error) bool {
		return err == nil || errors.Is(err, ErrCorrupt)
	}
	s, err := Open(path, &Options{LockTimeout: -1})
	switch {
	case err == nil:
	case errors.Is(err, ErrCorrupt):
		return "refused", nil
	case errors.Is(err, ErrForeign), errors.Is(err, ErrNewerFormat):
		return "refused (not a store)", nil
	default:
		return "", fmt.Errorf("Open: %w", err)
	}
	ctx := context.Background()
	var errs []error
	for i := range 5 {
		op := dayOp(string(rune('a'+i))+strings.Repeat("x", i), credit)
		if _, err := s.Usage(ctx, op); !acceptable(err) {
			errs = append(errs, fmt.Errorf("Usage: %w", err))
		}
		op.Key, op.KeyExpires = "key-", 1<<62
		if _, err := s.Deduct(ctx, op); !acceptable(err) {
			errs = append(errs, fmt.Errorf("Deduct: %w", err))
		}
		if _, err := s.Report(ctx, core.ReportQuery{Client: op.Client, From: -day, To: day}); !acceptable(err) {
			errs = append(errs, fmt.Errorf("Report: %w", err))
		}
	}
	if err := s.Export(ctx, func(*core.Record) error { return nil }); !acceptable(err) {
		errs = append(errs, fmt.Errorf("Export: %w", err))
	}
	if err := s.Close(); !acceptable(err) {
		errs = append(errs, fmt.Errorf("Close: %w", err))
	}
	_, cerr := Check(ctx, path)
	if !acceptable(cerr) {
		errs = append(errs, fmt.Errorf("Check: %w", cerr))
	}
	outcome = "opened, check " + strconv.FormatBool(cerr == nil)
	return outcome, errors.Join(errs...)
}
