package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"time"

	"github.com/frappy-go/apibilling/clientsfile"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/usageapi"
)

var cmdClients = &command{
	name:  "clients",
	args:  "-store URL -clients FILE [-format table|json|csv]",
	short: "list each client's quotas: limit, used, remaining, renewal",
	long: `Clients prints the quota status of every client of a clients file, as the
store holds it now: for each quota its period, limit, credits used and
remaining in the current window, and when the window started and renews.
These are the numbers the API enforces.

	-store URL     the store (see below)
	-prefix P      the key or table prefix of the app's store, if it sets one
	               (Redis, PostgreSQL, MySQL)
	-clients FILE  the app's clients file (JSON: ids, keys and quotas)
	-format F      table (default): aligned columns for people;
	               json: the shape of the usage API's GET api/clients;
	               csv: client,period,limit,used,remaining,window_start,resets_at
	               (limit and remaining are empty for an unlimited quota)

Clients are sorted by ID; those without quotas are left out, as the API
leaves them out. Times are RFC 3339; credits are exact decimal numbers.

Example:

	apibilling clients -store redis://127.0.0.1:6379/0 -clients clients.json

` + storeURLHelp,
	run: runClients,
}

func runClients(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("clients", flag.ContinueOnError)
	a := storeFlags(fs, "store", "prefix")
	file := fs.String("clients", "", "")
	format := fs.String("format", "table", "")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if err := oneOf("format", *format, "table", "json", "csv"); err != nil {
		return err
	}
	if *file == "" {
		return usagef("-clients is required: the app's clients file (JSON)")
	}
	if err := a.required(); err != nil {
		return err
	}
	f, err := clientsfile.Load(*file)
	if err != nil {
		return fmt.Errorf("%w (fix the file, or pass the file the app runs with)", err)
	}
	s, err := openStore(ctx, e, *a, mustExist)
	if err != nil {
		return err
	}
	defer s.Close()
	b := core.New(s)
	if err := f.Apply(b); err != nil {
		return err
	}
	var list []usageapi.StatusJSON
	asOf := time.Now()
	for _, id := range b.Clients() {
		o, err := b.Status(ctx, id)
		if err != nil {
			return fmt.Errorf("reading the quotas of client %q: %w", id, err)
		}
		asOf = o.At()
		list = append(list, usageapi.Status(id, &o, o.At()))
	}
	switch *format {
	case "json":
		if list == nil {
			list = []usageapi.StatusJSON{}
		}
		return writeJSON(e.stdout, e.stdoutTTY, struct {
			AsOf    string                `json:"as_of"`
			Clients []usageapi.StatusJSON `json:"clients"`
		}{asOf.UTC().Format(time.RFC3339), list})
	case "csv":
		w := csv.NewWriter(e.stdout)
		w.Write([]string{"client", "period", "limit", "used", "remaining", "window_start", "resets_at"})
		for _, c := range list {
			for _, q := range c.Quotas {
				w.Write([]string{c.Client, q.Period, csvCredits(q.Limit), q.Used.String(), csvCredits(q.Remaining), q.WindowStart, q.ResetsAt})
			}
		}
		w.Flush()
		return w.Error()
	}
	tw := newTable(e.stdout)
	fmt.Fprintln(tw, "CLIENT\tPERIOD\tLIMIT\tUSED\tREMAINING\tUSED %\tWINDOW START\tRESETS AT")
	for _, c := range list {
		for i, q := range c.Quotas {
			name := cell(c.Client)
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, q.Period, q.Limit, q.Used, q.Remaining, share(q), q.WindowStart, q.ResetsAt)
		}
	}
	if len(list) == 0 {
		fmt.Fprintln(tw, "(no client of the file has quotas)")
	}
	fmt.Fprintf(tw, "\nas of %s\n", asOf.UTC().Format(time.RFC3339))
	return tw.Flush()
}

// csvCredits writes an amount for CSV: empty when unlimited.
func csvCredits(c core.Credits) string {
	if c.IsUnlimited() {
		return ""
	}
	return c.String()
}

// share returns the share of a quota's limit used, for people.
func share(q usageapi.QuotaJSON) string {
	if q.Limit.IsUnlimited() {
		return "-"
	}
	if q.Limit.IsZero() {
		return "100%"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(q.Used.Micro())/float64(q.Limit.Micro()))
}
