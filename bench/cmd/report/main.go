package main

import (
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"
	"time"
)

// notes is the hand-written part of the report: what the profiles show and
// what remains where a target is missed. Keep it true to the listings the
// script regenerates beside it.
//
//go:embed notes.md
var notes string

// profiles collects -profile flags: "title=path" of a pprof listing.
type profiles []struct{ title, path string }

func (p *profiles) String() string { return fmt.Sprint(*p) }

func (p *profiles) Set(s string) error {
	i := strings.LastIndex(s, "=") // titles may hold "=", paths do not
	if i < 0 {
		return fmt.Errorf("want title=path, got %q", s)
	}
	t, path := s[:i], s[i+1:]
	*p = append(*p, struct{ title, path string }{t, path})
	return nil
}

type options struct {
	benchPath, loadPath, out string
	benchCmd, loadCmd        string
	commit                   string
	started                  time.Time
	elapsed                  time.Duration
	loadBefore, loadAfter    string
	profiles                 profiles
	redisPath, redisCmd      string
	redisText                string
	callgrindPath            string
	callgrindCmd             string
	stores                   profiles // title=path of a store benchmark's output
	texts                    profiles // title=path of a text to quote whole
}

func main() {
	var o options
	var startUnix, elapsed int64
	flag.StringVar(&o.benchPath, "bench", "bench.txt", "output of go test -bench ./inprocess")
	flag.StringVar(&o.loadPath, "load", "load.json", "output of cmd/load")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "file to write")
	flag.StringVar(&o.benchCmd, "bench-cmd", "", "the benchmark command, as run")
	flag.StringVar(&o.loadCmd, "load-cmd", "", "the load command, as run")
	flag.StringVar(&o.commit, "commit", "", "the commit measured")
	flag.Int64Var(&startUnix, "started", 0, "Unix time the script started")
	flag.Int64Var(&elapsed, "elapsed", 0, "seconds the measurements took")
	flag.StringVar(&o.loadBefore, "loadavg-before", "", "/proc/loadavg when the script started")
	flag.StringVar(&o.loadAfter, "loadavg-after", "", "/proc/loadavg when the measurements ended")
	flag.Var(&o.profiles, "profile", "title=path of a pprof listing to include (repeatable)")
	flag.StringVar(&o.redisPath, "redis", "", "output of go test -bench ./redisbench (optional)")
	flag.StringVar(&o.redisCmd, "redis-cmd", "", "the Redis benchmark command, as run")
	flag.Var(&o.texts, "text", "title=path of a command's output to quote whole, whose leading '# ' lines say what it is and the command (repeatable)")
	flag.Var(&o.stores, "store", "title=path of a store benchmark's output, whose leading '# ' lines say what it is and the command (repeatable)")
	flag.StringVar(&o.callgrindPath, "callgrind", "", "output of cmd/callgrind (optional)")
	flag.StringVar(&o.callgrindCmd, "callgrind-cmd", "", "the callgrind command, as run")
	flag.Parse()
	if startUnix > 0 {
		o.started = time.Unix(startUnix, 0)
	}
	o.elapsed = time.Duration(elapsed) * time.Second
	if err := run(o); err != nil {
		log.Fatalf("report: %v", err)
	}
}

func run(o options) error {
	f, err := os.Open(o.benchPath)
	if err != nil {
		return err
	}
	defer f.Close()
	benches, err := parseBench(f)
	if err != nil {
		return err
	}
	var load loadOutput
	if b, err := os.ReadFile(o.loadPath); err == nil {
		if err := json.Unmarshal(b, &load); err != nil {
			return fmt.Errorf("%s: %w", o.loadPath, err)
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	if o.redisPath != "" {
		b, err := os.ReadFile(o.redisPath)
		if err != nil {
			return err
		}
		o.redisText = string(b)
	}
	var cg *callgrindOutput
	if o.callgrindPath != "" {
		b, err := os.ReadFile(o.callgrindPath)
		switch {
		case err == nil:
			cg = new(callgrindOutput)
			if err := json.Unmarshal(b, cg); err != nil {
				return fmt.Errorf("%s: %w", o.callgrindPath, err)
			}
		case !os.IsNotExist(err):
			return err
		}
	}
	var listings []listing
	for _, p := range o.profiles {
		b, err := os.ReadFile(p.path)
		if err != nil {
			return err
		}
		listings = append(listings, listing{p.title, string(b)})
	}
	md := render(o, machine(), benches, &load, cg, listings)
	return os.WriteFile(o.out, []byte(md), 0o644)
}

type listing struct{ title, text string }

type machineInfo struct {
	cpu   string
	procs int
	goVer string
}

func machine() machineInfo {
	m := machineInfo{cpu: "unknown", procs: runtime.NumCPU(), goVer: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
