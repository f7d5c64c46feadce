package usageapi

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// DayJSON is one day of a usage answer.
type DayJSON struct {
	Date   string                  `json:"date"`
	Total  core.Credits            `json:"total"`
	Routes map[string]core.Credits `json:"routes,omitzero"`
}

// UsageJSON is a client's usage over a range: the body of GET
// api/me/usage and GET api/clients/{id}/usage.
type UsageJSON struct {
	Client string                  `json:"client"`
	From   string                  `json:"from"`
	To     string                  `json:"to"`
	TZ     string                  `json:"tz"`
	AsOf   string                  `json:"as_of"`
	Total  core.Credits            `json:"total"`
	Days   []DayJSON               `json:"days,omitempty"`
	Routes map[string]core.Credits `json:"routes,omitzero"`
}

// Row is one line of a usage CSV: a client's credits on one day under one
// route. The usage API and the admin command write the same rows.
type Row struct {
	Client  string
	Date    string
	Route   string
	Credits core.Credits
}

// Range is a usage query's range: whole days from From to To, both
// included, in Loc.
type Range struct {
	From, To string // YYYY-MM-DD
	Loc      *time.Location
	// first and last are the dates as UTC midnights, for calendar
	// arithmetic.
	first, last time.Time
}

// Days returns the range's dates in order.
func (rg *Range) Days() []string {
	var out []string
	for d := rg.first; !d.After(rg.last); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out
}

// Bounds returns instants inside the first and the last day, for
// [core.Billing.DailyUsageIn], which widens them to whole days.
func (rg *Range) Bounds() (from, to time.Time) {
	from = time.Date(rg.first.Year(), rg.first.Month(), rg.first.Day(), 12, 0, 0, 0, rg.Loc)
	to = time.Date(rg.last.Year(), rg.last.Month(), rg.last.Day(), 12, 0, 0, 1, rg.Loc)
	return from, to
}

// ParseRange reads from, to and tz: inclusive dates (the last 30 days
// ending today in the zone by default) and an IANA zone (def when empty).
// maxRange bounds the span. zones caches the zones loaded; nil (the only
// value a caller outside this package can pass) loads each zone anew.
func ParseRange(q map[string][]string, def *time.Location, now time.Time, maxRange time.Duration, zones *zoneCache) (Range, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	rg := Range{Loc: def}
	if tz := get("tz"); tz != "" {
		loc, err := zones.load(tz)
		if err != nil {
			return rg, fmt.Errorf("tz %q is not a known time zone (use an IANA name such as Europe/Berlin)", limit(tz))
		}
		rg.Loc = loc
	}
	y, m, d := now.In(rg.Loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	rg.last = today
	rg.first = today.AddDate(0, 0, -29)
	if v := get("to"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return rg, fmt.Errorf("to %q is not a date (YYYY-MM-DD)", limit(v))
		}
		rg.last = t
		if get("from") == "" {
			rg.first = t.AddDate(0, 0, -29)
		}
	}
	if v := get("from"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return rg, fmt.Errorf("from %q is not a date (YYYY-MM-DD)", limit(v))
		}
		rg.first = t
	}
	if rg.first.After(rg.last) {
		return rg, fmt.Errorf("from %s is after to %s", rg.first.Format(time.DateOnly), rg.last.Format(time.DateOnly))
	}
	if rg.first.Year() < 1700 || rg.last.Year() > 2200 {
		return rg, fmt.Errorf("dates must lie between the years 1700 and 2200")
	}
	if span := rg.last.Sub(rg.first) + 24*time.Hour; span > maxRange {
		return rg, fmt.Errorf("the range spans %d days; at most %d are allowed", int(span/(24*time.Hour)), int(maxRange/(24*time.Hour)))
	}
	rg.From, rg.To = rg.first.Format(time.DateOnly), rg.last.Format(time.DateOnly)
	return rg, nil
}

// limit shortens what a client sent before it is quoted back.
func limit(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// zoneCache loads each time zone once.
type zoneCache struct{ m sync.Map }

func (z *zoneCache) load(name string) (*time.Location, error) {
	if z != nil {
		if l, ok := z.m.Load(name); ok {
			return l.(*time.Location), nil
		}
	}
	if name == "Local" || strings.ContainsAny(name, "\x00\\") || len(name) > 64 {
		return nil, fmt.Errorf("bad zone")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	if z != nil {
		z.m.Store(name, loc)
	}
	return loc, nil
}

// clientZone returns the zone of a client's quotas: that of its longest
// period with an anchor, or UTC.
func (h *Handler) clientZone(client string) *time.Location {
	qs := h.cfg.Billing.Quotas(client)
	for i := len(qs) - 1; i >= 0; i-- {
		if !qs[i].Anchor.IsZero() {
			return qs[i].Anchor.Location()
		}
	}
	return time.UTC
}

// DailyRows returns a client's usage per day and route over rg, in date
// and route order, from one read of the store.
func DailyRows(ctx context.Context, b *core.Billing, client string, rg *Range) ([]core.DailyUsage, error) {
	from, to := rg.Bounds()
	return b.DailyUsageIn(ctx, client, from, to, rg.Loc)
}

// query is a parsed usage query.
type query struct {
	rg      Range
	byDay   bool
	byRoute bool
	route   string
	hasRout bool
	csv     bool
}

func (h *Handler) parseQuery(w http.ResponseWriter, r *http.Request, def *time.Location) (query, bool) {
	q := r.URL.Query()
	var out query
	rg, err := ParseRange(q, def, h.now(), h.cfg.MaxRange, &h.zones)
	if err != nil {
		problem(w, http.StatusBadRequest, capitalize(err.Error())+".")
		return out, false
	}
	out.rg = rg
	switch g := q.Get("group_by"); g {
	case "", "day,route", "route,day":
		out.byDay, out.byRoute = true, true
	case "day":
		out.byDay = true
	case "route":
		out.byRoute = true
	default:
		problem(w, http.StatusBadRequest, "group_by must be day, route or day,route.")
		return out, false
	}
	if q.Has("route") {
		out.route, out.hasRout = q.Get("route"), true
	}
	out.csv = wantsCSV(r)
	return out, true
}

// usage answers one client's usage over a range.
func (h *Handler) usage(w http.ResponseWriter, r *http.Request, client string, _ caller) {
	q, ok := h.parseQuery(w, r, h.clientZone(client))
	if !ok {
		return
	}
	asOf := h.now()
	days, err := DailyRows(r.Context(), h.cfg.Billing, client, &q.rg)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	if q.csv {
		rows := rowsOf(client, days, q)
		writeCSV(w, []string{"date", "route", "credits"}, len(rows), func(i int) []string {
			return []string{rows[i].Date, rows[i].Route, rows[i].Credits.String()}
		})
		return
	}
	writeJSON(w, usageJSON(client, days, q, asOf))
}

// Usage returns a client's usage over rg as GET api/clients/{id}/usage
// answers it by default: every day of the range, zero-filled, split by
// route. days are what [DailyRows] returned for rg.
func Usage(client string, days []core.DailyUsage, rg *Range, asOf time.Time) UsageJSON {
	return usageJSON(client, days, query{rg: *rg, byDay: true, byRoute: true}, asOf)
}

// Rows returns a client's CSV rows over rg, as GET api/usage?format=csv
// writes them: one per day and route with usage, in date and route order.
func Rows(client string, days []core.DailyUsage, rg *Range) []Row {
	return rowsOf(client, days, query{rg: *rg, byDay: true, byRoute: true})
}

// usageJSON builds the JSON answer: every day of the range (zero-filled),
// per route unless grouped by day only, or the totals per route.
func usageJSON(client string, days []core.DailyUsage, q query, asOf time.Time) UsageJSON {
	out := UsageJSON{Client: client, From: q.rg.From, To: q.rg.To, TZ: q.rg.Loc.String(),
		AsOf: asOf.UTC().Format(time.RFC3339), Total: core.Whole(0)}
	byDate := map[string]*core.DailyUsage{}
	for i := range days {
		byDate[days[i].Date] = &days[i]
	}
	routes := map[string]core.Credits{}
	for _, date := range q.rg.Days() {
		day := DayJSON{Date: date, Total: core.Whole(0)}
		if q.byRoute && q.byDay {
			day.Routes = map[string]core.Credits{}
		}
		if d := byDate[date]; d != nil {
			for label, c := range d.ByLabel {
				if q.hasRout && label != q.route || c.IsZero() {
					continue
				}
				day.Total = day.Total.Add(c)
				if day.Routes != nil {
					day.Routes[label] = c
				}
				routes[label] = routes[label].Add(c)
			}
		}
		out.Total = out.Total.Add(day.Total)
		if q.byDay {
			out.Days = append(out.Days, day)
		}
	}
	if q.byRoute && !q.byDay {
		out.Routes = routes
	}
	if q.byDay && out.Days == nil {
		out.Days = []DayJSON{}
	}
	return out
}

// rowsOf returns the CSV rows of a client's days: one per day and route
// with usage, in date and route order.
func rowsOf(client string, days []core.DailyUsage, q query) []Row {
	var rows []Row
	for _, d := range days {
		if d.Date < q.rg.From || d.Date > q.rg.To {
			continue
		}
		labels := make([]string, 0, len(d.ByLabel))
		for l, c := range d.ByLabel {
			if !c.IsZero() && (!q.hasRout || l == q.route) {
				labels = append(labels, l)
			}
		}
		slices.Sort(labels)
		for _, l := range labels {
			rows = append(rows, Row{Client: client, Date: d.Date, Route: l, Credits: d.ByLabel[l]})
		}
	}
	return rows
}

// allUsage answers every client's usage over a range: CSV rows client,
// date, route, credits (for invoicing), or JSON.
func (h *Handler) allUsage(w http.ResponseWriter, r *http.Request, _ string, _ caller) {
	q, ok := h.parseQuery(w, r, time.UTC)
	if !ok {
		return
	}
	asOf := h.now()
	var rows []Row
	var all []UsageJSON
	for _, id := range h.cfg.Billing.Clients() {
		days, err := DailyRows(r.Context(), h.cfg.Billing, id, &q.rg)
		if err != nil {
			h.failed(w, r, err)
			return
		}
		if q.csv {
			rows = append(rows, rowsOf(id, days, q)...)
		} else {
			all = append(all, usageJSON(id, days, q, asOf))
		}
	}
	if q.csv {
		WriteCSV(w, rows)
		return
	}
	if all == nil {
		all = []UsageJSON{}
	}
	writeJSON(w, struct {
		From    string      `json:"from"`
		To      string      `json:"to"`
		TZ      string      `json:"tz"`
		AsOf    string      `json:"as_of"`
		Clients []UsageJSON `json:"clients"`
	}{q.rg.From, q.rg.To, q.rg.Loc.String(), asOf.UTC().Format(time.RFC3339), all})
}

// top ranks clients by the credits they used over a range.
func (h *Handler) top(w http.ResponseWriter, r *http.Request, _ string, _ caller) {
	q, ok := h.parseQuery(w, r, time.UTC)
	if !ok {
		return
	}
	n := 10
	if v := r.URL.Query().Get("limit"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || k > 10000 {
			problem(w, http.StatusBadRequest, "limit must be a number from 1 to 10000.")
			return
		}
		n = k
	}
	type entry struct {
		Client string       `json:"client"`
		Total  core.Credits `json:"total"`
	}
	var list []entry
	from, to := q.rg.Bounds()
	for _, id := range h.cfg.Billing.Clients() {
		days, err := h.cfg.Billing.DailyUsageIn(r.Context(), id, from, to, q.rg.Loc)
		if err != nil {
			h.failed(w, r, err)
			return
		}
		total := core.Whole(0)
		for _, d := range days {
			total = total.Add(d.Credits)
		}
		list = append(list, entry{id, total})
	}
	slices.SortStableFunc(list, func(a, b entry) int { return cmp.Or(b.Total.Cmp(a.Total), cmp.Compare(a.Client, b.Client)) })
	if len(list) > n {
		list = list[:n]
	}
	if list == nil {
		list = []entry{}
	}
	writeJSON(w, struct {
		From    string  `json:"from"`
		To      string  `json:"to"`
		TZ      string  `json:"tz"`
		Clients []entry `json:"clients"`
	}{q.rg.From, q.rg.To, q.rg.Loc.String(), list})
}

// deleteUsage deletes a client's usage over a range, freeing the live
// windows it overlaps.
func (h *Handler) deleteUsage(w http.ResponseWriter, r *http.Request, client string, _ caller) {
	if h.cfg.Billing.Quotas(client) == nil {
		problem(w, http.StatusNotFound, "No such client.")
		return
	}
	qv := r.URL.Query()
	if !qv.Has("from") || !qv.Has("to") {
		problem(w, http.StatusBadRequest, "from and to are required to delete usage.")
		return
	}
	q, ok := h.parseQuery(w, r, h.clientZone(client))
	if !ok {
		return
	}
	first, last := q.rg.Bounds()
	from := dayStartIn(first, q.rg.Loc)
	to := dayStartIn(last.Add(24*time.Hour), q.rg.Loc) // the day after the last
	n, err := h.cfg.Billing.DeleteUsage(r.Context(), client, from, to)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	writeJSON(w, struct {
		Client  string       `json:"client"`
		From    string       `json:"from"`
		To      string       `json:"to"`
		TZ      string       `json:"tz"`
		Deleted core.Credits `json:"deleted"`
	}{client, q.rg.From, q.rg.To, q.rg.Loc.String(), n})
}

// dayStartIn returns the first instant of t's day in loc.
func dayStartIn(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	s := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if s.Day() != d { // midnight skipped by a DST change: the day starts later
		s = time.Date(y, m, d, 1, 0, 0, 0, loc)
	}
	return s
}

// putQuotas replaces a client's quotas; usage already counted is kept.
func (h *Handler) putQuotas(w http.ResponseWriter, r *http.Request, client string, _ caller) {
	if h.cfg.ParseQuotas == nil {
		problem(w, http.StatusNotImplemented, "Replacing quotas is not enabled on this server.")
		return
	}
	if err := core.ValidateClientID(client); err != nil {
		problem(w, http.StatusNotFound, "No such client.")
		return
	}
	body, ok := readBody(w, r, 1<<20)
	if !ok {
		return
	}
	qs, err := h.cfg.ParseQuotas(body)
	if err != nil {
		problem(w, http.StatusBadRequest, capitalize(err.Error()))
		return
	}
	if len(qs) == 0 {
		problem(w, http.StatusBadRequest, "At least one quota is required; a client without quotas is refused every request.")
		return
	}
	if err := h.cfg.Billing.SetQuotas(client, qs...); err != nil {
		problem(w, http.StatusBadRequest, capitalize(err.Error()))
		return
	}
	h.status(w, r, client, caller{admin: true})
}

// mintToken mints a portal token for a client: {"ttl": "1h"} in the body
// (optional; at most and by default 24 hours).
func (h *Handler) mintToken(w http.ResponseWriter, r *http.Request, client string, _ caller) {
	if h.cfg.Billing.Quotas(client) == nil {
		problem(w, http.StatusNotFound, "No such client.")
		return
	}
	ttl := MaxTokenTTL
	body, ok := readBody(w, r, 4096)
	if !ok {
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		var req struct {
			TTL string `json:"ttl"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			problem(w, http.StatusBadRequest, `The body must be JSON such as {"ttl":"1h"}.`)
			return
		}
		if req.TTL != "" {
			d, err := time.ParseDuration(req.TTL)
			if err != nil || d <= 0 || d > MaxTokenTTL {
				problem(w, http.StatusBadRequest, "ttl must be a duration from 1s to 24h, such as \"1h\".")
				return
			}
			ttl = d
		}
	}
	exp := h.now().Add(ttl).Truncate(time.Second)
	tok, err := h.tokens.mint(client, exp)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	writeJSONStatus(w, http.StatusCreated, struct {
		Client    string `json:"client"`
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}{client, tok, exp.UTC().Format(time.RFC3339)})
}

// revokeToken revokes a portal token.
func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, _ string, _ caller) {
	if !h.tokens.revokeToken(r.PathValue("token"), h.now()) {
		problem(w, http.StatusNotFound, "No such portal token.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// backup streams a consistent copy of the store.
func (h *Handler) backup(w http.ResponseWriter, r *http.Request, _ string, _ caller) {
	if h.cfg.Backup == nil {
		problem(w, http.StatusNotFound, "Backups are not available for this store.")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="apibilling-backup.db"`)
	w.Header().Set("Cache-Control", "no-store")
	if _, err := h.cfg.Backup(r.Context(), w); err != nil {
		// The status is sent; the client sees a truncated body.
		h.logger().LogAttrs(r.Context(), slog.LevelError, "apibilling/usageapi: backup failed", slog.Any("error", err))
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
