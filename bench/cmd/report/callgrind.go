package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/bench/internal/cgresult"
)

// callgrindOutput is the JSON of cmd/callgrind.
type callgrindOutput = cgresult.Output

// callgrindResult is one variant of cmd/callgrind.
type callgrindResult = cgresult.Result

// The target of the core path in instructions: at most this many times a
// bare mutex-guarded map update.
const maxCoreOverMap = 3

// overheadVerdict says how an added cost compares with the anchor's: the
// spec wants it below the anchor's, and at most half of it as the aim.
func overheadVerdict(ratios ...float64) string {
	worst := 0.0
	for _, r := range ratios {
		worst = max(worst, r)
	}
	switch {
	case worst <= maxOverheadRatio:
		return "met"
	case worst < 1:
		return "below the peer; **half missed**"
	}
	return "**missed**"
}

// instructions renders the callgrind tables and records their targets.
func (r *report) instructions(cg *callgrindOutput, cmd string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("## Instructions per request (callgrind)\n\n")
	if cg == nil || len(cg.Variants) == 0 {
		p("Not measured in this run (`bench/cmd/callgrind` needs valgrind).\n\n")
		return b.String()
	}
	p("Instructions counted by valgrind's callgrind do not depend on what else the machine runs: these are the figures ")
	p("to compare on a busy machine (the instruction rows of the targets above come from here). `bench/cmd/callgrind` serves the same ")
	p("requests as the in-process benchmarks (same apps, same reused request) one after another, %s and %s requests after ", num(float64(cg.N)), num(float64(2*cg.N)))
	p("a warm-up of %s, and takes the difference per request, so start-up cancels out. *with GC* counts the whole program ", num(float64(cg.Warmup)))
	p("with the garbage collector run stop-the-world (so its work for what the requests allocate is counted, and does not ")
	p("depend on timing); *request path* counts only the loop that serves the requests, with the collector off. ")
	p("One processor (`GOMAXPROCS=1`); repeatable to about 1%%. Allocations are counted natively (`runtime.MemStats`). ")
	p("*added* is the variant's count minus the bare framework's.\n\n")
	if cmd != "" {
		p("    %s\n\n", cmd)
	}
	p("%s; %s", cg.Valgrind, cg.Go)
	if cg.Started > 0 {
		p("; measured %s", time.Unix(cg.Started, 0).UTC().Format("2006-01-02 15:04 MST"))
	}
	if cg.LoadAvg[0] != "" {
		p("; `/proc/loadavg` before, after: %s; %s", cg.LoadAvg[0], cg.LoadAvg[1])
	}
	p(".\n\n")

	p("| framework | variant | with GC | added | request path | added | allocs/request | B/request |\n|---|---|--:|--:|--:|--:|--:|--:|\n")
	type cmp struct{ ours, anchor [2]float64 }
	cmps := map[string]cmp{}
	for _, fw := range frameworks {
		bare, ok := cg.Find(fw.name + "/bare")
		if !ok {
			continue
		}
		rows := []struct{ variant, words string }{
			{"bare", "bare framework"},
			{"anchor", "usual limiter: " + fw.short},
			{"billing", "apibilling, same headers (" + fw.headers + ")"},
			{"billing-all", "apibilling, all headers"},
		}
		var c cmp
		for _, row := range rows {
			v, ok := cg.Find(fw.name + "/" + row.variant)
			if !ok {
				continue
			}
			added := [2]float64{v.PerRequest - bare.PerRequest, v.NoGCPerRequest - bare.NoGCPerRequest}
			switch row.variant {
			case "anchor":
				c.anchor = added
			case "billing":
				c.ours = added
			}
			a := [2]string{signed(added[0]), signed(added[1])}
			if row.variant == "bare" {
				a = [2]string{"", ""}
			}
			p("| %s | %s | %s | %s | %s | %s | %.1f | %.0f |\n", fw.name, row.words, num(v.PerRequest), a[0],
				num(v.NoGCPerRequest), a[1], v.Allocs, v.Bytes)
		}
		cmps[fw.name] = c
	}
	p("\n| framework | apibilling added / anchor added, with GC | request path | target |\n|---|--:|--:|---|\n")
	for _, fw := range frameworks {
		c, ok := cmps[fw.name]
		if !ok || c.anchor[0] <= 0 {
			continue
		}
		rs := [2]float64{ratio(c.ours[0], c.anchor[0]), ratio(c.ours[1], c.anchor[1])}
		v := overheadVerdict(rs[0], rs[1])
		p("| %s (vs %s) | **%s** (%s vs %s) | %s (%s vs %s) | %s |\n", fw.name, fw.short, fmtRatio(rs[0]), signed(c.ours[0]), signed(c.anchor[0]),
			fmtRatio(rs[1]), signed(c.ours[1]), signed(c.anchor[1]), v)
		r.targets = append(r.targets, targetRow{
			fmt.Sprintf("%s: added instructions below %s's, same headers; aim <= %.1f x", fw.name, fw.short, maxOverheadRatio),
			fmt.Sprintf("%s with GC, %s request path (%s vs %s instructions)", fmtRatio(rs[0]), fmtRatio(rs[1]), signed(c.ours[0]), signed(c.anchor[0])),
			v,
		})
	}
	p("\n")
	r.echoFloor(p, cg)

	none, ok1 := cg.Find("core/none")
	if ok1 {
		p("The core path alone: `Billing.ChargeInto` on the memory store (one credit, a day and a month quota, a label, into a reused Outcome) ")
		p("against one update of a mutex-guarded map keyed by the client ID; the empty loop (%s instructions) is subtracted from both.\n\n", num(none.NoGCPerRequest))
		p("| clients | ChargeInto | mutex-guarded map | ratio (target <= %d) | allocs/request |\n|---|--:|--:|--:|--:|\n", maxCoreOverMap)
		for _, c := range []struct{ suffix, words string }{{"", "1"}, {"-10k", "10,000 in turn"}} {
			ch, ok2 := cg.Find("core/charge" + c.suffix)
			mp, ok3 := cg.Find("core/map" + c.suffix)
			if !ok2 || !ok3 {
				continue
			}
			chn, mpn := ch.NoGCPerRequest-none.NoGCPerRequest, mp.NoGCPerRequest-none.NoGCPerRequest
			rt := ratio(chn, mpn)
			p("| %s | %s | %s | **%s** | %.1f |\n", c.words, num(chn), num(mpn), fmtRatio(rt), ch.Allocs)
			if c.suffix == "" {
				r.targets = append(r.targets, targetRow{
					fmt.Sprintf("core path: <= %d x a bare mutex-guarded map update (instructions)", maxCoreOverMap),
					fmt.Sprintf("%s (%s vs %s instructions)", fmtRatio(rt), num(chn), num(mpn)),
					verdict(rt <= maxCoreOverMap),
				})
			}
		}
		fl, okf := cg.Find("core/floor")
		mp, okm := cg.Find("core/map")
		if okf && okm {
			fn, mpn := fl.NoGCPerRequest-none.NoGCPerRequest, mp.NoGCPerRequest-none.NoGCPerRequest
			p("| 1, floor: the least a calendar charge does, with Go maps | %s | %s | %s | %.1f |\n", num(fn), num(mpn), fmtRatio(ratio(fn, mpn)), fl.Allocs)
			p("\nThe floor (`core/floor` in `bench/cmd/callgrind`) reads the clock, finds the client in a map under a mutex, checks and adds to two window counters ")
			p("and adds to a map of the hour's aggregates by route: what any store that keeps calendar windows and daily usage does, ")
			p("with none of ChargeInto's checks, idempotency keys, thresholds or store interface. It alone is %s times a map update, against the target of %d.\n", fmtRatio(ratio(fn, mpn)), maxCoreOverMap)
		}
		p("\n")
	}
	return b.String()
}

// echoFloor renders the echo floor: the least a middleware that bills as
// apibilling's does costs, with and without echo's request-scoped storage.
func (r *report) echoFloor(p func(string, ...any), cg *callgrindOutput) {
	bare, ok1 := cg.Find("echo/bare")
	anchor, ok2 := cg.Find("echo/anchor")
	if !ok1 || !ok2 {
		return
	}
	rows := []struct{ name, words string }{
		{"echo/floor-noset", "identity, charge into a pooled outcome, next; nothing stored for the handler"},
		{"echo/floor", "the same, and the state stored with echo's c.Set"},
		{"echo/billing", "apibilling's echo middleware (no headers)"},
	}
	var found []cgresult.Result
	for _, row := range rows {
		v, ok := cg.Find(row.name)
		if !ok {
			return
		}
		found = append(found, v)
	}
	p("Why echo misses: echo's RateLimiter keeps nothing per request, while a billing middleware must leave the charge where the handler ")
	p("(`OutcomeFrom`) and a route-level billing middleware (charged once) find it. `apps.EchoFloor` is that middleware written out by hand at its least: ")
	p("the client from the key header, `ChargeInto` a pooled outcome, the state stored with echo's own request-scoped storage, the next handler. ")
	set := found[1].PerRequest - found[0].PerRequest
	a := anchor.PerRequest - bare.PerRequest
	p("Storing that one value with `c.Set` adds %s instructions (%s of the RateLimiter's whole added cost), because echo allocates each request's map anew; ", num(set), fmtRatio(ratio(set, a)))
	p("apibilling stores its state in the request's context instead, which costs less but is still one allocation of a request copy.\n\n")
	p("| echo variant | added, with GC | / anchor's | allocs/request | B/request |\n|---|--:|--:|--:|--:|\n")
	p("| usual limiter: echo's RateLimiter | %s | 1.00 | %.1f | %.0f |\n", signed(a), anchor.Allocs, anchor.Bytes)
	for i, row := range rows {
		v := found[i]
		added := v.PerRequest - bare.PerRequest
		p("| %s | %s | %s | %.1f | %.0f |\n", row.words, signed(added), fmtRatio(ratio(added, a)), v.Allocs, v.Bytes)
	}
	p("\n")
}
