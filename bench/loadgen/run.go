package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes one load run.
type Config struct {
	// Addr is the server's host:port, on loopback.
	Addr string
	// Path is the request's path and query.
	Path string
	// Header holds extra request headers as name, value pairs.
	Header [][2]string
	// Clients is the number of concurrent clients, each with one keep-alive
	// connection. Optional. Default: 1.
	Clients int
	// Warmup is run before measuring and not counted. Optional. Default: 0.
	Warmup time.Duration
	// Duration is how long the run is measured. Required.
	Duration time.Duration
	// MaxRequests stops the measurement early once that many requests have
	// completed. Optional. Default: 10,000,000.
	MaxRequests int64
	// Timeout bounds each request. Optional. Default: 5s.
	Timeout time.Duration
	// OnPhase, if set, is called when the measurement starts (true) and
	// when it stops (false), for example to read the server's CPU time
	// over exactly the measured interval. Optional.
	OnPhase func(measuring bool)
}

// Result is what a run measured.
type Result struct {
	Clients   int           `json:"clients"`
	Requests  int64         `json:"requests"` // completed while measuring
	Errors    int64         `json:"errors"`   // transport errors while measuring
	NotOK     int64         `json:"not_ok"`   // responses other than 2xx
	Status    map[int]int64 `json:"status"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	PerSecond float64       `json:"rps"`
	P50       time.Duration `json:"p50_ns"`
	P90       time.Duration `json:"p90_ns"`
	P99       time.Duration `json:"p99_ns"`
	Max       time.Duration `json:"max_ns"`
	FirstErr  string        `json:"first_error,omitempty"`
}

// phases of a run, read by every client before each request.
const (
	warming int32 = iota
	measuring
	stopped
)

type worker struct {
	hist   histogram
	n      int64
	errs   int64
	status map[int]int64
	first  error
}

// Run runs one load test and returns what it measured. It fails if no
// client could connect.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Clients <= 0 {
		cfg.Clients = 1
	}
	if cfg.Duration <= 0 {
		return Result{}, errors.New("loadgen: Config.Duration must be positive")
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 10_000_000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	req := encodeRequest(cfg.Addr, cfg.Path, cfg.Header)

	var phase atomic.Int32
	var total atomic.Int64 // requests completed while measuring
	conns := make([]*conn, cfg.Clients)
	for i := range conns {
		c, err := dial(cfg.Addr, req, cfg.Timeout)
		if err != nil {
			for _, c := range conns[:i] {
				c.close()
			}
			return Result{}, fmt.Errorf("loadgen: client %d: %w", i, err)
		}
		conns[i] = c
	}
	workers := make([]*worker, cfg.Clients)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{status: map[int]int64{}}
		workers[i] = w
		wg.Add(1)
		go func(c *conn) {
			defer wg.Done()
			defer func() { c.close() }()
			for {
				p := phase.Load()
				if p == stopped {
					return
				}
				start := time.Now()
				status, err := c.do(start.Add(cfg.Timeout))
				d := time.Since(start)
				counted := p == measuring && phase.Load() == measuring
				if err != nil && !errors.Is(err, errClose) {
					if counted {
						w.errs++
						if w.first == nil {
							w.first = err
						}
					}
					c.close()
					if phase.Load() == stopped {
						return
					}
					nc, derr := dial(cfg.Addr, req, cfg.Timeout)
					if derr != nil {
						if w.first == nil {
							w.first = derr
						}
						return
					}
					c = nc
					continue
				}
				if counted {
					w.hist.add(d)
					w.n++
					w.status[status]++
					if total.Add(1) >= cfg.MaxRequests {
						phase.Store(stopped)
					}
				}
				if errors.Is(err, errClose) {
					c.close()
					nc, derr := dial(cfg.Addr, req, cfg.Timeout)
					if derr != nil {
						return
					}
					c = nc
				}
			}
		}(conns[i])
	}

	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	ok := wait(cfg.Warmup)
	if ok && cfg.OnPhase != nil {
		cfg.OnPhase(true)
	}
	begin := time.Now()
	if ok {
		phase.CompareAndSwap(warming, measuring)
		// Poll so that reaching MaxRequests ends the measurement early.
		end := begin.Add(cfg.Duration)
		for ok && phase.Load() == measuring && time.Now().Before(end) {
			ok = wait(min(10*time.Millisecond, time.Until(end)))
		}
	}
	phase.Store(stopped)
	elapsed := time.Since(begin)
	if ok && cfg.OnPhase != nil {
		cfg.OnPhase(false)
	}
	wg.Wait()

	res := Result{Clients: cfg.Clients, Status: map[int]int64{}, Elapsed: elapsed}
	var h histogram
	for _, w := range workers {
		h.merge(&w.hist)
		res.Requests += w.n
		res.Errors += w.errs
		for s, n := range w.status {
			res.Status[s] += n
			if s < 200 || s > 299 {
				res.NotOK += n
			}
		}
		if w.first != nil && res.FirstErr == "" {
			res.FirstErr = w.first.Error()
		}
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	res.PerSecond = float64(res.Requests) / elapsed.Seconds()
	res.P50, res.P90, res.P99, res.Max = h.quantile(0.50), h.quantile(0.90), h.quantile(0.99), h.max
	return res, nil
}
