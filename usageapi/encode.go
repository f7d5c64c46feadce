package usageapi

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// ProblemContentType is the media type of every error answer (RFC 9457).
const ProblemContentType = "application/problem+json"

// problem writes an RFC 9457 problem with the status's text as title.
func problem(w http.ResponseWriter, status int, detail string) {
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{"about:blank", http.StatusText(status), status, detail})
	w.Write(append(b, '\n'))
}

// writeJSON writes v as JSON with status 200.
func writeJSON(w http.ResponseWriter, v any) { writeJSONStatus(w, http.StatusOK, v) }

// writeJSONStatus writes v as JSON with status.
func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// wantsCSV reports whether the request asks for CSV: format=csv, or an
// Accept header that prefers text/csv.
func wantsCSV(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "csv":
		return true
	case "json":
		return false
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "text/csv":
			return true
		case "application/json", "*/*":
			return false
		}
	}
	return false
}

// WriteCSV writes usage rows as CSV with the header client,date,route,
// credits: the invoicing export of GET api/usage?format=csv, which the
// admin command writes byte for byte alike.
func WriteCSV(w io.Writer, rows []Row) error {
	if hw, ok := w.(http.ResponseWriter); ok {
		setCSVHeaders(hw, "apibilling-usage.csv")
	}
	c := csv.NewWriter(w)
	c.Write([]string{"client", "date", "route", "credits"})
	for _, r := range rows {
		c.Write([]string{r.Client, r.Date, r.Route, r.Credits.String()})
	}
	c.Flush()
	return c.Error()
}

func writeCSV(w http.ResponseWriter, header []string, n int, row func(i int) []string) {
	setCSVHeaders(w, "apibilling-usage.csv")
	c := csv.NewWriter(w)
	c.Write(header)
	for i := range n {
		c.Write(row(i))
	}
	c.Flush()
}

func setCSVHeaders(w http.ResponseWriter, name string) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// readBody reads at most max bytes of the request body, answering 413 or
// 400 when it cannot.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mb *http.MaxBytesError
		if ok := asMaxBytes(err, &mb); ok {
			problem(w, http.StatusRequestEntityTooLarge, "The body is larger than "+strconv.FormatInt(max, 10)+" bytes.")
		} else {
			problem(w, http.StatusBadRequest, "The body could not be read.")
		}
		return nil, false
	}
	return b, true
}

func asMaxBytes(err error, target **http.MaxBytesError) bool {
	mb, ok := err.(*http.MaxBytesError)
	if ok {
		*target = mb
	}
	return ok
}
