package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/bench/internal/cgresult"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("callgrind: ")
	serve := flag.String("serve", "", "serve -n requests of this variant after the warm-up and exit (what runs under valgrind)")
	n := flag.Int("n", 10000, "requests of the shorter run (the longer serves twice as many)")
	warmup := flag.Int("warmup", 2000, "requests served before counting")
	filter := flag.String("variants", "", "regexp of the variants to measure (default: all)")
	out := flag.String("out", "", "write the JSON here (default: standard output)")
	keep := flag.String("keep", "", "keep the callgrind output files in this directory (for callgrind_annotate)")
	list := flag.Bool("list", false, "list the variants and exit")
	flag.Parse()

	if *list {
		for _, v := range variants {
			fmt.Println(v.name)
		}
		return
	}
	if *serve != "" {
		if err := serveOnly(*serve, *warmup, *n); err != nil {
			log.Fatal(err)
		}
		return
	}
	re, err := regexp.Compile(*filter)
	if err != nil {
		log.Fatalf("-variants: %v", err)
	}
	o, err := measure(re, *n, *warmup, *keep)
	if err != nil {
		log.Fatal(err)
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	b = append(b, '\n')
	if *out == "" {
		_, err = os.Stdout.Write(b)
	} else {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func find(name string) (variant, error) {
	for _, v := range variants {
		if v.name == name {
			return v, nil
		}
	}
	return variant{}, fmt.Errorf("unknown variant %q (see -list)", name)
}

// serveOnly serves warmup and then n requests of the variant name.
func serveOnly(name string, warmup, n int) error {
	v, err := find(name)
	if err != nil {
		return err
	}
	serve, stop := v.build()
	defer stop()
	if err := loop(serve, warmup); err != nil {
		return err
	}
	return counted(serve, n)
}

// counted is loop for the requests that count: callgrind collects only
// inside it (--toggle-collect).
//
//go:noinline
func counted(serve func() error, n int) error { return loop(serve, n) }

func loop(serve func() error, n int) error {
	for i := 0; i < n; i++ {
		if err := serve(); err != nil {
			return err
		}
	}
	return nil
}

// measure runs every variant that re matches under callgrind.
func measure(re *regexp.Regexp, n, warmup int, keep string) (*cgresult.Output, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if err := hasSymbol(self, "main.counted"); err != nil {
		return nil, err
	}
	version, err := exec.Command("valgrind", "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("valgrind --version: %w (install valgrind)", err)
	}
	dir := keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "callgrind"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	o := &cgresult.Output{N: n, Warmup: warmup, Valgrind: strings.TrimSpace(string(version)),
		Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, Started: time.Now().Unix()}
	o.LoadAvg[0] = loadavg()
	for _, v := range variants {
		if !re.MatchString(v.name) {
			continue
		}
		r := cgresult.Result{Name: v.name}
		for i, count := range [2]int{n, 2 * n} {
			base := filepath.Join(dir, strings.ReplaceAll(v.name, "/", "_")+"."+strconv.Itoa(count))
			if r.Instructions[i], err = callgrind(self, base+".out", v.name, warmup, count, true); err != nil {
				return nil, fmt.Errorf("%s: %w", v.name, err)
			}
			if r.NoGC[i], err = callgrind(self, base+".nogc.out", v.name, warmup, count, false); err != nil {
				return nil, fmt.Errorf("%s: %w", v.name, err)
			}
		}
		r.PerRequest = float64(r.Instructions[1]-r.Instructions[0]) / float64(n)
		r.NoGCPerRequest = float64(r.NoGC[1]-r.NoGC[0]) / float64(n)
		if r.Allocs, r.Bytes, err = allocs(v, warmup, n); err != nil {
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
		log.Printf("%-22s %7.0f instructions/request (%7.0f without GC) %5.1f allocs %6.0f bytes/request",
			v.name, r.PerRequest, r.NoGCPerRequest, r.Allocs, r.Bytes)
		o.Variants = append(o.Variants, r)
	}
	if len(o.Variants) == 0 {
		return nil, errors.New("no variant matches -variants")
	}
	o.LoadAvg[1] = loadavg()
	return o, nil
}

// callgrind runs the variant name under callgrind, serving count requests
// after warmup, and returns the instructions it counted. One processor
// (GOMAXPROCS=1) and no asynchronous preemption keep the runtime's own work
// from depending on timing (valgrind runs one thread at a time anyway).
// With gc, the whole program is counted and the garbage collector runs
// stop-the-world (GODEBUG=gcstoptheworld=1): the same work as a concurrent
// collection, done at points that do not depend on timing. Without, the
// collector is off (GOGC=off) and only the requests are counted
// (--toggle-collect of the loop that serves them).
func callgrind(self, file, name string, warmup, count int, gc bool) (int64, error) {
	args := []string{"--tool=callgrind", "--callgrind-out-file=" + file}
	env := append(os.Environ(), "GOMAXPROCS=1")
	if gc {
		env = append(env, "GODEBUG=asyncpreemptoff=1,gcstoptheworld=1")
	} else {
		args = append(args, "--toggle-collect=main.counted")
		env = append(env, "GODEBUG=asyncpreemptoff=1", "GOGC=off")
	}
	args = append(args, self, "-serve", name, "-warmup", strconv.Itoa(warmup), "-n", strconv.Itoa(count))
	cmd := exec.Command("valgrind", args...)
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, lastLines(string(b), 5))
	}
	return totals(file)
}

// totals returns the instruction total of a callgrind output file.
func totals(file string) (int64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64 = -1
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, prefix := range []string{"totals:", "summary:"} {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				fields := strings.Fields(rest)
				if len(fields) == 0 {
					continue
				}
				v, err := strconv.ParseInt(fields[0], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("%s: %q: %w", file, line, err)
				}
				total = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if total < 0 {
		return 0, fmt.Errorf("%s: no totals line", file)
	}
	return total, nil
}

// allocs counts the heap allocations per request of v natively.
func allocs(v variant, warmup, n int) (allocs, bytes float64, err error) {
	serve, stop := v.build()
	defer stop()
	if err := loop(serve, warmup); err != nil {
		return 0, 0, err
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := loop(serve, n); err != nil {
		return 0, 0, err
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n), float64(after.TotalAlloc-before.TotalAlloc) / float64(n), nil
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// hasSymbol checks that the binary at path has the function name in its
// symbol table, which --toggle-collect finds it by: go run strips the table,
// and the counts of the request path alone would then all be zero.
func hasSymbol(path, name string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err == nil {
		for _, s := range syms {
			if s.Name == name {
				return nil
			}
		}
	}
	return fmt.Errorf("%s has no symbol %s (go run strips the symbol table): build it with go build -o callgrind ./cmd/callgrind and run that", path, name)
}
