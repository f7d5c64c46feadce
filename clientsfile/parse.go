package clientsfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// defaultStart is the anchor's wall-clock time of a quota without "start",
// in the quota's zone: a Monday at midnight, as [core.DefaultAnchor].
var defaultStart = core.DefaultAnchor

// Load reads and parses the clients file at path, as [Parse] does. Errors
// about the content are an [*Error] whose Path is path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("clientsfile: %w", err)
	}
	f, err := Parse(data)
	if e, ok := asType[*Error](err); ok {
		e.Path = path
	}
	return f, err
}

// Parse parses a clients file. It refuses anything it does not understand,
// with an [*Error] that names the client and the field: see the package
// documentation for the format.
func Parse(data []byte) (*File, error) {
	data = bytes.TrimPrefix(data, bom)
	if path, member, dup := duplicateMember(data); dup {
		return nil, duplicateError(data, path, member)
	}
	var top struct {
		Clients []json.RawMessage `json:"clients"`
	}
	if err := decodeStrict(data, &top); err != nil {
		return nil, fileError(data, err)
	}
	if len(top.Clients) == 0 {
		return nil, &Error{Index: -1, Field: "clients", Err: errors.New("no clients")}
	}
	f := &File{Clients: make([]Client, 0, len(top.Clients))}
	zones := zoneCache{}
	for i, raw := range top.Clients {
		c, err := parseClient(i, raw, zones)
		if err != nil {
			return nil, err
		}
		f.Clients = append(f.Clients, c)
	}
	keys, err := f.check()
	if err != nil {
		return nil, err
	}
	f.keys = keys
	return f, nil
}

// clientJSON is a client as written in the file.
type clientJSON struct {
	ID     *string           `json:"id"`
	Keys   []*string         `json:"keys"`
	Quotas []json.RawMessage `json:"quotas"`
}

// quotaJSON is a quota as written in the file. Limit stays raw so that it is
// read exactly, and so that a string is not taken for a number.
type quotaJSON struct {
	Period *string         `json:"period"`
	Limit  json.RawMessage `json:"limit"`
	Start  *string         `json:"start"`
	TZ     *string         `json:"tz"`
}

func parseClient(i int, raw json.RawMessage, zones zoneCache) (Client, error) {
	var cj clientJSON
	if err := decodeStrict(raw, &cj); err != nil {
		field, why := describeDecodeError(err)
		// Name the client by its ID if that much can be read.
		var named struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(raw, &named)
		return Client{}, &Error{Index: i, ID: named.ID, Field: field, Err: why}
	}
	var c Client
	if cj.ID == nil {
		return c, &Error{Index: i, Field: "id", Err: errors.New("missing")}
	}
	c.ID = *cj.ID
	if err := core.ValidateClientID(c.ID); err != nil {
		return c, &Error{Index: i, Field: "id", Err: err}
	}
	fail := func(field string, err error) (Client, error) {
		return Client{}, &Error{Index: i, ID: c.ID, Field: field, Err: err}
	}
	if len(cj.Keys) == 0 {
		return fail("keys", errors.New("missing: a client needs at least one key"))
	}
	c.Keys = make([]string, len(cj.Keys))
	for k, key := range cj.Keys {
		if key == nil {
			return fail(fmt.Sprintf("keys[%d]", k), errors.New("null where a key is expected"))
		}
		c.Keys[k] = *key
	}
	c.Quotas = make([]core.Quota, 0, len(cj.Quotas))
	for k, rq := range cj.Quotas {
		q, field, err := parseQuota(rq, zones)
		if err != nil {
			return fail(fmt.Sprintf("quotas[%d]%s", k, field), err)
		}
		c.Quotas = append(c.Quotas, q)
	}
	return c, nil
}

// parseQuota returns the quota, or the field (".period", or "" for the
// quota as a whole) and what is wrong with it.
func parseQuota(raw json.RawMessage, zones zoneCache) (core.Quota, string, error) {
	var qj quotaJSON
	var q core.Quota
	if err := decodeStrict(raw, &qj); err != nil {
		field, why := describeDecodeError(err)
		if field != "" {
			field = "." + field
		}
		return q, field, why
	}
	if qj.Period == nil {
		return q, ".period", errors.New("missing")
	}
	p, err := core.ParsePeriod(*qj.Period)
	if err != nil {
		return q, ".period", fmt.Errorf("unknown period %q (want second, minute, hour, day, week, month or year)", *qj.Period)
	}
	q.Period = p
	if q.Limit, err = parseLimit(qj.Limit); err != nil {
		return q, ".limit", err
	}
	loc := time.UTC
	if qj.TZ != nil {
		if loc, err = zones.load(*qj.TZ); err != nil {
			return q, ".tz", err
		}
	}
	if qj.Start == nil {
		y, m, d := defaultStart.Date()
		q.Anchor = time.Date(y, m, d, 0, 0, 0, 0, loc)
	} else {
		start, err := parseStart(*qj.Start)
		if err != nil {
			return q, ".start", err
		}
		if qj.TZ != nil {
			start = start.In(loc)
		}
		q.Anchor = start
	}
	if err := q.Validate(); err != nil {
		return q, ".start", err
	}
	return q, "", nil
}

// parseLimit reads a limit exactly, with [core.ParseCredits] (the one
// decimal rule: digits beyond the sixth decimal are rounded once, an amount
// that rounds to zero from above is refused), or -1 for unlimited.
func parseLimit(raw json.RawMessage) (core.Credits, error) {
	s := string(bytes.TrimSpace(raw))
	switch {
	case s == "" || s == "null":
		return core.Credits{}, errors.New("missing (a number of credits, or -1 for unlimited)")
	case s[0] == '"':
		return core.Credits{}, fmt.Errorf("%s is a string; write the number without quotes", s)
	case s[0] != '-' && (s[0] < '0' || s[0] > '9'):
		return core.Credits{}, fmt.Errorf("%s is not a number", s)
	case strings.ContainsAny(s, "eE"):
		return core.Credits{}, fmt.Errorf("%s: write the limit as a plain decimal, without an exponent", s)
	case s[0] == '-':
		if c, err := core.ParseCredits(s[1:]); err == nil && c == core.Whole(1) {
			return core.Unlimited, nil
		}
		return core.Credits{}, fmt.Errorf("%s is negative; only -1 is allowed, for unlimited", s)
	}
	c, err := core.ParseCredits(s)
	if err != nil {
		return core.Credits{}, fmt.Errorf("%s: %w", s, err)
	}
	return c, nil
}

// parseStart parses an RFC 3339 time and keeps the offset it was written
// with as its zone. (time.Parse would give the machine's local zone instead
// when the offsets agree, and with it that zone's DST rules.)
func parseStart(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("%q is not an RFC 3339 time such as 2022-01-01T00:00:00Z", s)
	}
	_, off := t.Zone()
	if off == 0 {
		return t.UTC(), nil
	}
	return t.In(time.FixedZone("", off)), nil
}

// zoneCache holds the zones one Parse has loaded, so that each is loaded
// once: a time.Location is about 4 KB, and 100,000 clients in one zone
// share one.
type zoneCache map[string]*time.Location

func (z zoneCache) load(name string) (*time.Location, error) {
	if loc, ok := z[name]; ok {
		return loc, nil
	}
	loc, err := loadZone(name)
	if err != nil {
		return nil, err
	}
	z[name] = loc
	return loc, nil
}

// loadZone loads an IANA zone by name. "Local" and "" are refused: they
// would depend on the machine.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone name such as \"Europe/Berlin\"", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailing
	}
	return nil
}

var errTrailing = errors.New("unexpected data after the JSON object")

// describeDecodeError splits a decoding error of a client or quota into the
// field it is about and the problem.
func describeDecodeError(err error) (field string, why error) {
	if te, ok := asType[*json.UnmarshalTypeError](err); ok {
		if te.Field == "" {
			return "", fmt.Errorf("a JSON %s where an object is expected", te.Value)
		}
		return te.Field, fmt.Errorf("a JSON %s where a %s is expected", te.Value, jsonKind(te.Type.String()))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "", fmt.Errorf("unknown field %s", name)
	}
	return "", err
}

func jsonKind(goType string) string {
	switch strings.TrimPrefix(goType, "*") {
	case "string":
		return "string"
	case "[]*string", "[]string":
		return "list of strings"
	case "[]json.RawMessage":
		return "list"
	}
	return "value of another kind"
}

// fileError describes an error of the file as a whole, with the line and
// column of a syntax error.
func fileError(data []byte, err error) error {
	if se, ok := asType[*json.SyntaxError](err); ok {
		line, col := position(data, se.Offset)
		return &Error{Index: -1, Err: fmt.Errorf("line %d, column %d: %w", line, col, se)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Index: -1, Err: errors.New("empty or truncated JSON")}
	}
	field, why := describeDecodeError(err)
	return &Error{Index: -1, Field: field, Err: why}
}

// position returns the 1-based line and column of the byte at which a
// syntax error was found: offset counts the bytes read, that one included.
func position(data []byte, offset int64) (line, col int) {
	at := int(min(max(offset-1, 0), int64(len(data))))
	before := data[:at]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = at - bytes.LastIndexByte(before, '\n')
	return line, col
}

// validKey reports why a key cannot identify a client, or "".
func validKey(key string) string {
	if key == "" {
		return "empty key"
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] == 0x7f {
			return "a key cannot hold spaces or control characters (byte " + strconv.Itoa(i) + ")"
		}
	}
	return ""
}

// asType is errors.As returning the target.
func asType[E error](err error) (E, bool) {
	var e E
	ok := errors.As(err, &e)
	return e, ok
}

// ParseQuotas parses a list of quotas in the clients file's format,
// {"quotas":[{"period":"day","limit":500,"start":"...","tz":"..."}]}, with
// the same rules as [Parse]: what the usage API's PUT api/clients/{id}/quotas
// takes. Errors are an [*Error] naming the field.
func ParseQuotas(data []byte) ([]core.Quota, error) {
	data = bytes.TrimPrefix(data, bom)
	if path, member, dup := duplicateMember(data); dup {
		return nil, duplicateError(data, path, member)
	}
	var top struct {
		Quotas []json.RawMessage `json:"quotas"`
	}
	if err := decodeStrict(data, &top); err != nil {
		return nil, fileError(data, err)
	}
	zones := zoneCache{}
	qs := make([]core.Quota, 0, len(top.Quotas))
	var seen core.PeriodSet
	for k, rq := range top.Quotas {
		q, field, err := parseQuota(rq, zones)
		if err != nil {
			return nil, &Error{Index: -1, Field: fmt.Sprintf("quotas[%d]%s", k, field), Err: err}
		}
		if seen.Has(q.Period) {
			return nil, &Error{Index: -1, Field: fmt.Sprintf("quotas[%d].period", k), Err: fmt.Errorf("a second %s quota; at most one per period", q.Period)}
		}
		seen = seen.Add(q.Period)
		qs = append(qs, q)
	}
	return qs, nil
}
