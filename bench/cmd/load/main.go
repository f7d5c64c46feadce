package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/frappy-go/apibilling/bench/internal/apps"
	"github.com/frappy-go/apibilling/bench/loadgen"
)

// Run is one load run as cmd/report reads it.
type Run struct {
	Framework string         `json:"framework"`
	Target    string         `json:"target"`
	Result    loadgen.Result `json:"result"`
	// ServerCPU is the CPU time (user and system) the server process used
	// while the run was measured, and LoadCPU the load generator's own.
	ServerCPU time.Duration `json:"server_cpu_ns"`
	LoadCPU   time.Duration `json:"load_cpu_ns"`
}

// Output is the JSON file load writes.
type Output struct {
	Duration time.Duration `json:"duration_ns"`
	Warmup   time.Duration `json:"warmup_ns"`
	Runs     []Run         `json:"runs"`
	Skipped  []string      `json:"skipped,omitempty"`
}

func main() {
	root := flag.String("root", "..", "the apibilling checkout (its examples are built from there)")
	frameworks := flag.String("frameworks", "gin,echo,fiber,nethttp", "frameworks, comma-separated")
	targets := flag.String("targets", "bare,memory,bolt,example", "targets, comma-separated: bare, anchor, memory, bolt, example")
	clients := flag.String("clients", "1,16,64", "numbers of concurrent clients, comma-separated")
	duration := flag.Duration("duration", 3*time.Second, "measured time of each run")
	warmup := flag.Duration("warmup", 500*time.Millisecond, "unmeasured time before each run")
	maxRequests := flag.Int64("max-requests", 5_000_000, "most requests measured in one run")
	out := flag.String("out", "load.json", "JSON output file")
	profiles := map[string]string{}
	flag.Func("cpuprofile", "framework/target=file: CPU profile of that benchserver target (repeatable)", func(s string) error {
		k, path, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("want framework/target=file, got %q", s)
		}
		profiles[k] = path
		return nil
	})
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := run(ctx, config{
		root: *root, frameworks: split(*frameworks), targets: split(*targets),
		duration: *duration, warmup: *warmup, maxRequests: *maxRequests,
		profiles: profiles,
	}, *clients)
	if err != nil {
		log.Fatalf("load: %v", err)
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	root             string
	frameworks       []string
	targets          []string
	clients          []int
	duration, warmup time.Duration
	maxRequests      int64
	benchserver, tmp string
	examples         map[string]string // framework -> binary
	buildErrors      map[string]string // framework -> why its example did not build
	clientsFile      string
	profiles         map[string]string // "framework/target" -> CPU profile file
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(ctx context.Context, cfg config, clients string) (*Output, error) {
	for _, c := range split(clients) {
		n, err := strconv.Atoi(c)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad -clients %q", clients)
		}
		cfg.clients = append(cfg.clients, n)
	}
	tmp, err := os.MkdirTemp("", "apibilling-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cfg.tmp = tmp
	if err := build(ctx, &cfg); err != nil {
		return nil, err
	}
	o := &Output{Duration: cfg.duration, Warmup: cfg.warmup}
	for _, fw := range cfg.frameworks {
		for _, target := range cfg.targets {
			if target == "example" && cfg.examples[fw] == "" {
				why := "no examples/" + fw + " in the checkout"
				if e := cfg.buildErrors[fw]; e != "" {
					why = "examples/" + fw + " does not build: " + firstLine(e)
				} else {
					log.Printf("skipping %s/example: %s", fw, why)
				}
				o.Skipped = append(o.Skipped, fw+"/example: "+why)
				continue
			}
			runs, err := runTarget(ctx, &cfg, fw, target)
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %w", fw, target, err)
			}
			o.Runs = append(o.Runs, runs...)
		}
	}
	return o, nil
}

// build compiles cmd/benchserver and the example applications that exist.
func build(ctx context.Context, cfg *config) error {
	cfg.benchserver = filepath.Join(cfg.tmp, "benchserver")
	if err := goBuild(ctx, ".", cfg.benchserver, "./cmd/benchserver"); err != nil {
		return err
	}
	cfg.examples = map[string]string{}
	cfg.buildErrors = map[string]string{}
	for _, fw := range cfg.frameworks {
		dir := filepath.Join(cfg.root, "examples", fw)
		if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
			continue
		}
		bin := filepath.Join(cfg.tmp, "example-"+fw)
		if err := goBuild(ctx, cfg.root, bin, "./examples/"+fw); err != nil {
			// Reported as skipped: the other targets still run.
			cfg.buildErrors[fw] = err.Error()
			log.Printf("skipping %s/example: %v", fw, err)
			continue
		}
		cfg.examples[fw] = bin
	}
	cfg.clientsFile = filepath.Join(cfg.tmp, "clients.json")
	return os.WriteFile(cfg.clientsFile, clientsJSON(), 0o600)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func goBuild(ctx context.Context, dir, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// clientsJSON is the example applications' clients file: the benchmark
// client with a day and a month quota that never run out during a run.
func clientsJSON() []byte {
	limit := strconv.FormatInt(apps.Limit.Floor(), 10)
	return []byte(`{"clients": [{"id": "` + apps.ClientID + `", "keys": ["` + apps.Key + `"], "quotas": [
  {"period": "day", "limit": ` + limit + `, "start": "2022-01-15T00:00:00Z"},
  {"period": "month", "limit": ` + limit + `, "start": "2022-01-15T00:00:00Z"}]}]}
`)
}

// runTarget starts one server and runs every client count against it.
func runTarget(ctx context.Context, cfg *config, fw, target string) ([]Run, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	db := filepath.Join(cfg.tmp, fw+"-"+target+".db")
	var cmd *exec.Cmd
	switch target {
	case "bare", "anchor", "memory", "bolt":
		args := []string{"-framework", fw, "-mode", target, "-addr", addr, "-db", db}
		if p := cfg.profiles[fw+"/"+target]; p != "" {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, err
			}
			args = append(args, "-cpuprofile", abs)
		}
		cmd = exec.Command(cfg.benchserver, args...)
	case "example":
		cmd = exec.Command(cfg.examples[fw], "-addr", addr, "-db", db, "-clients", cfg.clientsFile)
	default:
		return nil, fmt.Errorf("unknown target %q", target)
	}
	logPath := filepath.Join(cfg.tmp, fw+"-"+target+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = cfg.tmp
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stopServer(cmd, exited)

	if err := waitReady(ctx, addr, exited); err != nil {
		b, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w; server output:\n%s", err, b)
	}
	var runs []Run
	for _, n := range cfg.clients {
		var server, self [2]time.Duration
		res, err := loadgen.Run(ctx, loadgen.Config{
			Addr: addr, Path: apps.Path, Header: [][2]string{{apps.KeyHeader, apps.Key}},
			Clients: n, Warmup: cfg.warmup, Duration: cfg.duration, MaxRequests: cfg.maxRequests,
			OnPhase: func(measuring bool) {
				i := 0
				if !measuring {
					i = 1
				}
				server[i], self[i] = processCPU(cmd.Process.Pid), processCPU(os.Getpid())
			},
		})
		if err != nil {
			return nil, err
		}
		log.Printf("%-5s %-7s %2d clients: %8.0f req/s  p50 %-9v p99 %-9v server CPU %v, errors %d, not 2xx %d",
			fw, target, n, res.PerSecond, res.P50, res.P99, server[1]-server[0], res.Errors, res.NotOK)
		if res.Requests == 0 {
			log.Printf("warning: %s/%s with %d clients: no request completed while measuring", fw, target, n)
		}
		if res.Errors > 0 || res.NotOK > 0 {
			return nil, fmt.Errorf("%d clients: %d errors (first: %s), statuses %v", n, res.Errors, res.FirstErr, res.Status)
		}
		runs = append(runs, Run{Framework: fw, Target: target, Result: res,
			ServerCPU: server[1] - server[0], LoadCPU: self[1] - self[0]})
	}
	return runs, nil
}

// stopServer asks the server to stop with SIGTERM and kills it if it has
// not stopped within 10 seconds.
func stopServer(cmd *exec.Cmd, exited chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// processCPU returns the user and system CPU time process pid has used, from
// /proc (in ticks of USER_HZ, 100 a second on Linux), or 0 where /proc is
// not there.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s) // f[0] is field 3 (state); utime and stime are fields 14, 15
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls the route until it answers 200, for at most 20 seconds.
func waitReady(ctx context.Context, addr string, exited chan error) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("server exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+apps.Path, nil)
		req.Header.Set(apps.KeyHeader, apps.Key)
		resp, err := client.Do(req)
		if err != nil {
			last = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			client.CloseIdleConnections()
			return nil
		}
		last = fmt.Errorf("status %d", resp.StatusCode)
	}
	return errors.Join(errors.New("server not ready within 20s"), last)
}
