package usageapi

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// QuotaJSON is one quota's status as the API answers it; limit and
// remaining are null for an unlimited quota.
type QuotaJSON struct {
	Period      string       `json:"period"`
	Limit       core.Credits `json:"limit"`
	Used        core.Credits `json:"used"`
	Remaining   core.Credits `json:"remaining"`
	WindowStart string       `json:"window_start"`
	ResetsAt    string       `json:"resets_at"`
}

// StatusJSON is a client's quota status: the body of GET api/me and GET
// api/clients/{id}, and the shape of the example apps' /api/quota.
type StatusJSON struct {
	Client string      `json:"client"`
	AsOf   string      `json:"as_of"`
	Quotas []QuotaJSON `json:"quotas"`
}

// Status returns the status JSON of an outcome read at asOf.
func Status(client string, o *core.Outcome, asOf time.Time) StatusJSON {
	s := StatusJSON{Client: client, AsOf: asOf.UTC().Format(time.RFC3339), Quotas: make([]QuotaJSON, 0, o.Len())}
	for _, q := range o.Quotas() {
		s.Quotas = append(s.Quotas, QuotaJSON{
			Period:      q.Period.String(),
			Limit:       q.Limit,
			Used:        q.Used,
			Remaining:   q.Remaining,
			WindowStart: q.Start.Format(time.RFC3339),
			ResetsAt:    q.End.Format(time.RFC3339),
		})
	}
	return s
}

// status answers one client's quota status.
func (h *Handler) status(w http.ResponseWriter, r *http.Request, client string, _ caller) {
	o, err := h.cfg.Billing.Status(r.Context(), client)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	writeJSON(w, Status(client, &o, o.At()))
}

// listClients answers every client's status; near_limit=F keeps those with
// a quota at least F used, most used first.
func (h *Handler) listClients(w http.ResponseWriter, r *http.Request, _ string, _ caller) {
	near := -1.0
	if v := r.URL.Query().Get("near_limit"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1e6 {
			problem(w, http.StatusBadRequest, "near_limit must be a share of a limit, such as 0.8.")
			return
		}
		near = f
	}
	type entry struct {
		StatusJSON
		share float64
	}
	var list []entry
	var asOf time.Time
	for _, id := range h.cfg.Billing.Clients() {
		o, err := h.cfg.Billing.Status(r.Context(), id)
		if err != nil {
			h.failed(w, r, err)
			return
		}
		asOf = o.At()
		share := usedShare(&o)
		if near >= 0 && share < near {
			continue
		}
		list = append(list, entry{Status(id, &o, o.At()), share})
	}
	if near >= 0 {
		slices.SortStableFunc(list, func(a, b entry) int { return cmp.Compare(b.share, a.share) })
	}
	if asOf.IsZero() {
		asOf = h.now()
	}
	out := struct {
		AsOf    string       `json:"as_of"`
		Clients []StatusJSON `json:"clients"`
	}{AsOf: asOf.UTC().Format(time.RFC3339), Clients: make([]StatusJSON, 0, len(list))}
	for _, e := range list {
		out.Clients = append(out.Clients, e.StatusJSON)
	}
	writeJSON(w, out)
}

// usedShare returns the largest share of a limit used among the quotas of
// o (limited quotas only; a zero limit counts as fully used).
func usedShare(o *core.Outcome) float64 {
	best := 0.0
	for _, q := range o.Quotas() {
		if q.Unlimited() {
			continue
		}
		s := 1.0
		if !q.Limit.IsZero() {
			s = float64(q.Used.Micro()) / float64(q.Limit.Micro())
		}
		best = max(best, s)
	}
	return best
}
