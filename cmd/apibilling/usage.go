package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/usageapi"
)

var cmdUsage = &command{
	name:  "usage",
	args:  "-store URL -from DATE -to DATE [-tz ZONE] [-client ID] [-format csv|json|table]",
	short: "export usage per client, day and route (invoicing CSV or JSON)",
	long: `Usage prints the credits each client used per day and route over a range
of days, read from the store's hourly usage aggregates: the rows and numbers
of the usage API's invoicing export (GET api/usage), byte for byte.

	-store URL   the store (see below)
	-prefix P    the key or table prefix of the app's store, if it sets one
	             (Redis, PostgreSQL, MySQL)
	-from DATE   the first day, YYYY-MM-DD
	-to DATE     the last day, YYYY-MM-DD (included)
	-tz ZONE     the days' time zone, an IANA name such as Europe/Berlin
	             (default UTC); a day across a DST change has 23 or 25 hours
	-client ID   one client only (default: every client with usage in the range)
	-format F    csv (default): client,date,route,credits, one row per client,
	             day and route with usage, as GET api/usage?format=csv;
	             json: the shape of GET api/usage (every day of the range,
	             zero-filled, split by route); table: the CSV rows aligned
	             for people

Clients are those with usage aggregates in the store around the range
(found by reading the store's export), sorted by ID; no clients file is
needed. Credits are exact decimal numbers.

Example:

	apibilling usage -store apibilling.db -from 2026-11-01 -to 2026-11-30 > november.csv

` + storeURLHelp,
	run: runUsage,
}

// maxUsageRange bounds -from..-to: the stores keep hourly usage for 400
// days by default, so longer ranges hold nothing more, but nothing breaks.
const maxUsageRange = 100 * 366 * 24 * time.Hour

func runUsage(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("usage", flag.ContinueOnError)
	a := storeFlags(fs, "store", "prefix")
	from := fs.String("from", "", "")
	to := fs.String("to", "", "")
	tz := fs.String("tz", "", "")
	client := fs.String("client", "", "")
	format := fs.String("format", "csv", "")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := oneOf("format", *format, "csv", "json", "table"); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return usagef("-from and -to are required: the first and last day, as YYYY-MM-DD")
	}
	if *client != "" {
		if err := core.ValidateClientID(*client); err != nil {
			return usagef("-client: %v", err)
		}
	}
	now := time.Now()
	q := map[string][]string{"from": {*from}, "to": {*to}}
	if *tz != "" {
		q["tz"] = []string{*tz}
	}
	rg, err := usageapi.ParseRange(q, time.UTC, now, maxUsageRange, nil)
	if err != nil {
		return usagef("%v", err)
	}
	s, err := openStore(ctx, e, *a, mustExist) // -store is required
	if err != nil {
		return err
	}
	defer s.Close()
	b := core.New(s)

	var clients []string
	if *client != "" {
		clients = []string{*client}
	} else if clients, err = clientsWithUsage(ctx, s, &rg); err != nil {
		return fmt.Errorf("reading the store: %w", err)
	}
	var rows []usageapi.Row
	all := []usageapi.UsageJSON{}
	for _, id := range clients {
		days, err := usageapi.DailyRows(ctx, b, id, &rg)
		if err != nil {
			return fmt.Errorf("reading the usage of client %q: %w", id, err)
		}
		if *format == "json" {
			all = append(all, usageapi.Usage(id, days, &rg, now))
		} else {
			rows = append(rows, usageapi.Rows(id, days, &rg)...)
		}
	}
	switch *format {
	case "csv":
		return usageapi.WriteCSV(e.stdout, rows)
	case "table":
		tw := newTable(e.stdout)
		fmt.Fprintln(tw, "CLIENT\tDATE\tROUTE\tCREDITS")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cell(r.Client), r.Date, cell(r.Route), r.Credits)
		}
		if len(rows) == 0 {
			fmt.Fprintf(tw, "(no usage from %s to %s in %s)\n", rg.From, rg.To, rg.Loc)
		}
		return tw.Flush()
	}
	return writeJSON(e.stdout, e.stdoutTTY, struct {
		From    string               `json:"from"`
		To      string               `json:"to"`
		TZ      string               `json:"tz"`
		AsOf    string               `json:"as_of"`
		Clients []usageapi.UsageJSON `json:"clients"`
	}{rg.From, rg.To, rg.Loc.String(), now.UTC().Format(time.RFC3339), all})
}

// errEnough stops an export early.
var errEnough = errors.New("enough")

// clientsWithUsage returns, sorted, the clients with usage aggregates in
// the hours around rg (a day either side covers every zone's offset).
func clientsWithUsage(ctx context.Context, s core.Store, rg *usageapi.Range) ([]string, error) {
	first, last := rg.Bounds()
	lo := first.Add(-48 * time.Hour).UnixNano()
	hi := last.Add(48 * time.Hour).UnixNano()
	seen := map[string]struct{}{}
	err := s.Export(ctx, func(rec *core.Record) error {
		if rec.Kind == core.RecordUsage && rec.Used > 0 && rec.Start >= lo && rec.Start < hi {
			if _, ok := seen[rec.Client]; !ok {
				seen[rec.Client] = struct{}{}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}
