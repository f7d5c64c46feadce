package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progressMode says how a long command reports progress on stderr.
type progressMode int

const (
	progressNone progressMode = iota
	progressBar               // one line redrawn in place: a terminal
	progressLog               // a plain line every few seconds: a log file
)

// parseProgress reads -progress.
func parseProgress(v string, stderrTTY bool) (progressMode, error) {
	switch v {
	case "auto":
		if stderrTTY {
			return progressBar, nil
		}
		return progressLog, nil
	case "bar":
		return progressBar, nil
	case "log":
		return progressLog, nil
	case "none":
		return progressNone, nil
	}
	return 0, usagef("-progress %q: want auto, bar, log or none", v)
}

// Intervals between progress reports.
const (
	barInterval = 200 * time.Millisecond
	logInterval = 5 * time.Second
)

// progress reports a count growing towards an optional total.
type progress struct {
	w      io.Writer
	mode   progressMode
	prefix string // "apibilling migrate"
	phase  string // "copying"
	unit   string // "records", or "bytes"
	total  int64  // 0: unknown
	n      atomic.Int64
	start  time.Time

	stop chan struct{}
	done sync.WaitGroup
	mu   sync.Mutex // serialises writes

	stopped bool // the phase did not complete
}

// startProgress starts reporting; call finish when done.
func startProgress(w io.Writer, mode progressMode, prefix, phase, unit string, total int64) *progress {
	p := newProgress(w, mode, prefix, phase, unit, total)
	p.begin()
	return p
}

// newProgress returns a progress that counts, and reports once begun.
func newProgress(w io.Writer, mode progressMode, prefix, phase, unit string, total int64) *progress {
	return &progress{w: w, mode: mode, prefix: prefix, phase: phase, unit: unit, total: total, stop: make(chan struct{})}
}

// begin starts reporting.
func (p *progress) begin() {
	p.start = time.Now()
	if p.mode == progressNone {
		return
	}
	every := barInterval
	if p.mode == progressLog {
		every = logInterval
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.report(false)
			}
		}
	}()
}

// add counts n more.
func (p *progress) add(n int64) { p.n.Add(n) }

// set sets the count.
func (p *progress) set(n int64) { p.n.Store(n) }

// finish stops reporting and writes a final line that says what was done
// (for an interrupted phase too, so the log shows how far it got).
func (p *progress) finish(ok bool) {
	close(p.stop)
	p.done.Wait()
	if p.mode != progressNone {
		p.stopped = !ok
		p.report(true)
	}
}

func (p *progress) report(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.n.Load()
	el := time.Since(p.start)
	rate := 0.0
	if s := el.Seconds(); s > 0 {
		rate = float64(n) / s
	}
	qty := func(v int64) string {
		if p.unit == "bytes" {
			return bytesHuman(v)
		}
		return count(v)
	}
	perSecond := qty(int64(rate)) + "/s"
	if p.unit != "bytes" {
		perSecond = qty(int64(rate)) + " " + p.unit + "/s"
	}
	var b strings.Builder
	switch p.mode {
	case progressBar:
		b.WriteString("\r")
		fmt.Fprintf(&b, "%-10s ", p.phase)
		if p.total > 0 {
			frac := min(float64(n)/float64(p.total), 1)
			const width = 30
			full := int(frac * width)
			b.WriteString("[" + strings.Repeat("=", full))
			if full < width {
				b.WriteString(">" + strings.Repeat(" ", width-full-1))
			}
			fmt.Fprintf(&b, "] %3.0f%%  %s/%s", 100*frac, qty(n), qty(p.total))
		} else {
			b.WriteString(qty(n))
		}
		if p.unit != "bytes" {
			b.WriteString(" " + p.unit)
		}
		b.WriteString("  " + perSecond)
		if final {
			fmt.Fprintf(&b, "  in %s", el.Round(100*time.Millisecond))
			if p.stopped {
				b.WriteString("  stopped")
			}
		} else if eta := p.eta(n, rate); eta != "" {
			b.WriteString("  ETA " + eta)
		}
		b.WriteString("\x1b[K") // clear the rest of the line
		if final {
			b.WriteString("\n")
		}
	case progressLog:
		fmt.Fprintf(&b, "%s: %s: %s", p.prefix, p.phase, qty(n))
		unit := " " + p.unit
		if p.unit == "bytes" {
			unit = ""
		}
		if p.total > 0 {
			fmt.Fprintf(&b, " of %s%s (%.0f%%)", qty(p.total), unit, 100*min(float64(n)/float64(p.total), 1))
		} else {
			b.WriteString(unit)
		}
		b.WriteString(", " + perSecond)
		if final {
			fmt.Fprintf(&b, ", in %s", el.Round(100*time.Millisecond))
			if p.stopped {
				b.WriteString(", stopped")
			} else {
				b.WriteString(", done")
			}
		} else if eta := p.eta(n, rate); eta != "" {
			b.WriteString(", ETA " + eta)
		}
		b.WriteString("\n")
	}
	io.WriteString(p.w, b.String())
}

func (p *progress) eta(n int64, rate float64) string {
	if p.total <= 0 || rate <= 0 || n >= p.total {
		return ""
	}
	left := time.Duration(float64(p.total-n) / rate * float64(time.Second))
	return left.Round(time.Second).String()
}
