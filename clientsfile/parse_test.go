package clientsfile_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/clientsfile"
	"github.com/frappy-go/apibilling/core"
)

// demoFile is the clients file of the specification.
const demoFile = `{"clients": [
  {"id": "client1", "keys": ["demo-key-1"],
   "quotas": [{"period": "day", "limit": 500, "start": "2022-01-01T00:00:00Z"},
              {"period": "month", "limit": 10000, "start": "2022-01-01T00:00:00Z"}]},
  {"id": "client2", "keys": ["demo-key-2"],
   "quotas": [{"period": "minute", "limit": 10, "start": "2022-01-01T00:00:00Z"},
              {"period": "day", "limit": -1, "start": "2022-01-01T00:00:00+10:00"}]}]}`

func TestParseDemoFile(t *testing.T) {
	f, err := clientsfile.Parse([]byte(demoFile))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.Clients), 2; got != want {
		t.Fatalf("%d clients, want %d", got, want)
	}
	utc := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	want := []struct {
		id     string
		keys   string
		quotas []core.Quota
		zones  []int // each anchor's offset in seconds
	}{
		{"client1", "demo-key-1", []core.Quota{
			{Period: core.Day, Limit: core.Whole(500), Anchor: utc},
			{Period: core.Month, Limit: core.Whole(10000), Anchor: utc},
		}, []int{0, 0}},
		{"client2", "demo-key-2", []core.Quota{
			{Period: core.Minute, Limit: core.Whole(10), Anchor: utc},
			{Period: core.Day, Limit: core.Unlimited, Anchor: utc.Add(-10 * time.Hour)},
		}, []int{0, 10 * 3600}},
	}
	for i, w := range want {
		c := f.Clients[i]
		if c.ID != w.id || strings.Join(c.Keys, ",") != w.keys {
			t.Errorf("client %d: %q %q, want %q %q", i, c.ID, c.Keys, w.id, w.keys)
		}
		if len(c.Quotas) != len(w.quotas) {
			t.Fatalf("client %d: %d quotas, want %d", i, len(c.Quotas), len(w.quotas))
		}
		for k, q := range c.Quotas {
			wq := w.quotas[k]
			if q.Period != wq.Period || q.Limit != wq.Limit || !q.Anchor.Equal(wq.Anchor) {
				t.Errorf("client %d quota %d: %v %d %v, want %v %d %v", i, k, q.Period, q.Limit, q.Anchor, wq.Period, wq.Limit, wq.Anchor)
			}
			if _, off := q.Anchor.Zone(); off != w.zones[k] {
				t.Errorf("client %d quota %d: anchor offset %d, want %d", i, k, off, w.zones[k])
			}
		}
	}
	// client2's day windows run from midnight to midnight at UTC+10.
	start, end := f.Clients[1].Quotas[1].Window(time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC))
	if got, want := start.Format(time.RFC3339), "2026-12-01T00:00:00+10:00"; got != want {
		t.Errorf("client2 day window starts %s, want %s", got, want)
	}
	if got, want := end.Format(time.RFC3339), "2026-12-02T00:00:00+10:00"; got != want {
		t.Errorf("client2 day window ends %s, want %s", got, want)
	}
}

func TestParseLimits(t *testing.T) {
	for _, tc := range []struct {
		limit string
		want  core.Credits
	}{
		{"0", core.Whole(0)},
		{"500", core.Whole(500)},
		{"0.5", core.MustParseCredits("0.5")},
		{"12.000001", core.MustParseCredits("12.000001")},
		{"0.1234560000", core.MustParseCredits("0.123456")},
		{"0.0000005", core.MustParseCredits("0.000001")},
		{"1.0000004", core.Whole(1)},
		{"-1", core.Unlimited},
		{"-1.0", core.Unlimited},
		{"9007199254.740991", core.MaxCredits},
	} {
		t.Run(tc.limit, func(t *testing.T) {
			f, err := clientsfile.Parse([]byte(`{"clients":[{"id":"c","keys":["k"],"quotas":[{"period":"hour","limit":` + tc.limit + `}]}]}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Clients[0].Quotas[0].Limit; got != tc.want {
				t.Errorf("limit %s parsed as %v, want %v", tc.limit, got, tc.want)
			}
		})
	}
}

// TestParseAnchorZones pins down what "start" and "tz" mean: start names an
// instant; tz, when given, is the zone whose calendar the windows follow.
func TestParseAnchorZones(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// 2022-03-27 is the day Berlin moves from +01:00 to +02:00.
	summer := time.Date(2022, 3, 28, 12, 0, 0, 0, berlin)
	for _, tc := range []struct {
		name        string
		quota       string
		anchor      string // the anchor as RFC 3339 in its own zone
		zone        string // the anchor location's name
		windowStart string // the day window containing summer, in UTC
	}{
		{
			name:        "offset only: a fixed zone",
			quota:       `"start":"2022-01-01T00:00:00+01:00"`,
			anchor:      "2022-01-01T00:00:00+01:00",
			zone:        "",
			windowStart: "2022-03-27T23:00:00Z", // midnight at +01:00, not Berlin's
		},
		{
			name:        "tz and a matching offset: midnight in Berlin",
			quota:       `"start":"2022-01-01T00:00:00+01:00","tz":"Europe/Berlin"`,
			anchor:      "2022-01-01T00:00:00+01:00",
			zone:        "Europe/Berlin",
			windowStart: "2022-03-27T22:00:00Z", // midnight in Berlin, summer time
		},
		{
			name:        "tz keeps the instant of start",
			quota:       `"start":"2022-01-01T00:00:00Z","tz":"Europe/Berlin"`,
			anchor:      "2022-01-01T01:00:00+01:00",
			zone:        "Europe/Berlin",
			windowStart: "2022-03-27T23:00:00Z", // 01:00 in Berlin, summer time
		},
		{
			name:        "tz without start: midnight in tz",
			quota:       `"tz":"Europe/Berlin"`,
			anchor:      "2001-01-01T00:00:00+01:00",
			zone:        "Europe/Berlin",
			windowStart: "2022-03-27T22:00:00Z",
		},
		{
			name:        "neither: the default anchor",
			quota:       ``,
			anchor:      "2001-01-01T00:00:00Z",
			zone:        "UTC",
			windowStart: "2022-03-28T00:00:00Z",
		},
		{
			name:        "fractional seconds kept",
			quota:       `"start":"2022-01-01T00:00:00.25-05:30"`,
			anchor:      "2022-01-01T00:00:00.25-05:30",
			zone:        "",
			windowStart: "2022-03-28T05:30:00.25Z",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sep := ","
			if tc.quota == "" {
				sep = ""
			}
			f, err := clientsfile.Parse([]byte(`{"clients":[{"id":"c","keys":["k"],"quotas":[{"period":"day","limit":1` + sep + tc.quota + `}]}]}`))
			if err != nil {
				t.Fatal(err)
			}
			q := f.Clients[0].Quotas[0]
			if got := q.Anchor.Format(time.RFC3339Nano); got != tc.anchor {
				t.Errorf("anchor %s, want %s", got, tc.anchor)
			}
			if got := q.Anchor.Location().String(); got != tc.zone {
				t.Errorf("anchor zone %q, want %q", got, tc.zone)
			}
			start, _ := q.Window(summer)
			if got := start.UTC().Format(time.RFC3339Nano); got != tc.windowStart {
				t.Errorf("day window of %s starts %s, want %s", summer, got, tc.windowStart)
			}
		})
	}
}

// TestParseOffsetIgnoresLocalZone checks that an offset in "start" stays a
// fixed zone even when the machine's zone has the same offset: the windows
// must not depend on where the file is read.
func TestParseOffsetIgnoresLocalZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	saved := time.Local
	time.Local = berlin
	defer func() { time.Local = saved }()
	f, err := clientsfile.Parse([]byte(`{"clients":[{"id":"c","keys":["k"],"quotas":[{"period":"day","limit":1,"start":"2022-01-01T00:00:00+01:00"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	q := f.Clients[0].Quotas[0]
	if loc := q.Anchor.Location(); loc == berlin || loc == time.Local {
		t.Errorf("anchor location is the local zone %v, want a fixed +01:00", loc)
	}
	start, _ := q.Window(time.Date(2022, 7, 1, 12, 0, 0, 0, time.UTC))
	if got, want := start.UTC().Format(time.RFC3339), "2022-06-30T23:00:00Z"; got != want {
		t.Errorf("summer day window starts %s, want %s", got, want)
	}
}

// quota wraps one quota's JSON into a file of one client.
func quota(fields string) string {
	return `{"clients":[{"id":"c1","keys":["k1"],"quotas":[` + fields + `]}]}`
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  string
		index int
		id    string
		field string
		msg   string // the whole message
	}{
		{"the spec's example", `{"clients":[{"id":"client1","keys":["a"]},{"id":"client2","keys":["b"],"quotas":[{"period":"dya","limit":1}]}]}`,
			1, "client2", "quotas[0].period", `clientsfile: clients[1] "client2": quotas[0].period: unknown period "dya" (want second, minute, hour, day, week, month or year)`},
		{"empty input", ``, -1, "", "", `clientsfile: empty or truncated JSON`},
		{"syntax error", "{\"clients\":[\n  {\"id\":\"a\",,\"keys\":[\"k\"]}]}", -1, "", "",
			`clientsfile: line 2, column 13: invalid character ',' looking for beginning of object key string`},
		{"syntax error on line 1", `{,}`, -1, "", "", `clientsfile: line 1, column 2: invalid character ',' looking for beginning of object key string`},
		{"truncated", `{"clients":[`, -1, "", "", `clientsfile: empty or truncated JSON`},
		{"trailing data", `{"clients":[{"id":"a","keys":["k"]}]} {}`, -1, "", "", `clientsfile: unexpected data after the JSON object`},
		{"not an object", `[]`, -1, "", "", `clientsfile: a JSON array where an object is expected`},
		{"unknown top-level field", `{"clients":[{"id":"a","keys":["k"]}],"client":[]}`, -1, "", "", `clientsfile: unknown field "client"`},
		{"no clients field", `{}`, -1, "", "clients", `clientsfile: clients: no clients`},
		{"empty clients", `{"clients":[]}`, -1, "", "clients", `clientsfile: clients: no clients`},
		{"clients not a list", `{"clients":{}}`, -1, "", "clients", `clientsfile: clients: a JSON object where a list is expected`},
		{"client not an object", `{"clients":[5]}`, 0, "", "", `clientsfile: clients[0]: a JSON number where an object is expected`},
		{"unknown client field", `{"clients":[{"id":"a","keys":["k"],"quota":[]}]}`, 0, "a", "", `clientsfile: clients[0] "a": unknown field "quota"`},
		{"missing id", `{"clients":[{"keys":["k"]}]}`, 0, "", "id", `clientsfile: clients[0]: id: missing`},
		{"id not a string", `{"clients":[{"id":5,"keys":["k"]}]}`, 0, "", "id", `clientsfile: clients[0]: id: a JSON number where a string is expected`},
		{"empty id", `{"clients":[{"id":"","keys":["k"]}]}`, 0, "", "id", `clientsfile: clients[0]: id: apibilling: invalid client ID: empty`},
		{"id too long", `{"clients":[{"id":"` + strings.Repeat("x", 257) + `","keys":["k"]}]}`, 0, "", "id",
			`clientsfile: clients[0]: id: apibilling: invalid client ID: 257 bytes, more than 256`},
		{"duplicate id", `{"clients":[{"id":"a","keys":["k"]},{"id":"b","keys":["l"]},{"id":"a","keys":["m"]}]}`, 2, "a", "id",
			`clientsfile: clients[2] "a": id: the same ID as clients[0]`},
		{"missing keys", `{"clients":[{"id":"a"}]}`, 0, "a", "keys", `clientsfile: clients[0] "a": keys: missing: a client needs at least one key`},
		{"empty keys", `{"clients":[{"id":"a","keys":[]}]}`, 0, "a", "keys", `clientsfile: clients[0] "a": keys: missing: a client needs at least one key`},
		{"keys not a list", `{"clients":[{"id":"a","keys":"k"}]}`, 0, "a", "keys", `clientsfile: clients[0] "a": keys: a JSON string where a list of strings is expected`},
		{"null key", `{"clients":[{"id":"a","keys":["k",null]}]}`, 0, "a", "keys[1]", `clientsfile: clients[0] "a": keys[1]: null where a key is expected`},
		{"empty key", `{"clients":[{"id":"a","keys":["k",""]}]}`, 0, "a", "keys[1]", `clientsfile: clients[0] "a": keys[1]: empty key`},
		{"key with a space", `{"clients":[{"id":"a","keys":["my key"]}]}`, 0, "a", "keys[0]",
			`clientsfile: clients[0] "a": keys[0]: a key cannot hold spaces or control characters (byte 2)`},
		{"duplicate key in one client", `{"clients":[{"id":"a","keys":["k","k"]}]}`, 0, "a", "keys[1]",
			`clientsfile: clients[0] "a": keys[1]: the same key as clients[0] "a" keys[0]`},
		{"duplicate key across clients", `{"clients":[{"id":"a","keys":["k"]},{"id":"b","keys":["x","k"]}]}`, 1, "b", "keys[1]",
			`clientsfile: clients[1] "b": keys[1]: the same key as clients[0] "a" keys[0]`},
		{"quotas not a list", `{"clients":[{"id":"a","keys":["k"],"quotas":{}}]}`, 0, "a", "quotas",
			`clientsfile: clients[0] "a": quotas: a JSON object where a list is expected`},
		{"quota not an object", quota(`5`), 0, "c1", "quotas[0]", `clientsfile: clients[0] "c1": quotas[0]: a JSON number where an object is expected`},
		{"unknown quota field", quota(`{"period":"day","limt":5}`), 0, "c1", "quotas[0]", `clientsfile: clients[0] "c1": quotas[0]: unknown field "limt"`},
		{"missing period", quota(`{"limit":5}`), 0, "c1", "quotas[0].period", `clientsfile: clients[0] "c1": quotas[0].period: missing`},
		{"period not a string", quota(`{"period":3,"limit":5}`), 0, "c1", "quotas[0].period",
			`clientsfile: clients[0] "c1": quotas[0].period: a JSON number where a string is expected`},
		{"two quotas of one period", quota(`{"period":"day","limit":5},{"period":"hour","limit":1},{"period":"Day","limit":6}`), 0, "c1", "quotas[2].period",
			`clientsfile: clients[0] "c1": quotas[2].period: a second "day" quota (the first is quotas[0]); a client has at most one quota per period`},
		{"missing limit", quota(`{"period":"day"}`), 0, "c1", "quotas[0].limit",
			`clientsfile: clients[0] "c1": quotas[0].limit: missing (a number of credits, or -1 for unlimited)`},
		{"null limit", quota(`{"period":"day","limit":null}`), 0, "c1", "quotas[0].limit",
			`clientsfile: clients[0] "c1": quotas[0].limit: missing (a number of credits, or -1 for unlimited)`},
		{"limit as a string", quota(`{"period":"day","limit":"5"}`), 0, "c1", "quotas[0].limit",
			`clientsfile: clients[0] "c1": quotas[0].limit: "5" is a string; write the number without quotes`},
		{"limit not a number", quota(`{"period":"day","limit":[1]}`), 0, "c1", "quotas[0].limit",
			`clientsfile: clients[0] "c1": quotas[0].limit: [1] is not a number`},
		{"negative limit", quota(`{"period":"day","limit":-2}`), 0, "c1", "quotas[0].limit",
			`clientsfile: clients[0] "c1": quotas[0].limit: -2 is negative; only -1 is allowed, for unlimited`},
		{"negative fraction", quota(`{"period":"day","limit":-0.5}`), 0, "c1", "quotas[0].limit",
			`clientsfile: clients[0] "c1": quotas[0].limit: -0.5 is negative; only -1 is allowed, for unlimited`},
		{"exponent", quota(`{"period":"day","limit":1e3}`), 0, "c1", "quotas[0].limit",
			`clientsfile: clients[0] "c1": quotas[0].limit: 1e3: write the limit as a plain decimal, without an exponent`},
		{"rounds to zero", quota(`{"period":"day","limit":0.0000001}`), 0, "c1", "quotas[0].limit",
			`clientsfile: clients[0] "c1": quotas[0].limit: 0.0000001: apibilling: invalid cost: "0.0000001" rounds to zero micro-credits; the smallest amount is 0.000001`},
		{"too large", quota(`{"period":"day","limit":9007199255}`), 0, "c1", "quotas[0].limit",
			`clientsfile: clients[0] "c1": quotas[0].limit: 9007199255: apibilling: invalid cost: "9007199255" is above the maximum of 9007199254.740991 credits`},
		{"duplicate limit", quota(`{"period":"day","limit":5,"limit":-1}`), 0, "c1", "quotas[0].limit",
			`clientsfile: clients[0] "c1": quotas[0].limit: the member "limit" appears twice; a JSON object must name each member once`},
		{"duplicate id", `{"clients":[{"id":"ok","keys":["x"]},{"id":"a","id":"b","keys":["k"]}]}`, 1, "", "id",
			`clientsfile: clients[1]: id: the member "id" appears twice; a JSON object must name each member once`},
		{"duplicate keys member", `{"clients":[{"id":"a","keys":["k"],"keys":["j"]}]}`, 0, "a", "keys",
			`clientsfile: clients[0] "a": keys: the member "keys" appears twice; a JSON object must name each member once`},
		{"duplicate top-level member", `{"clients":[{"id":"a","keys":["k"]}],"clients":[]}`, -1, "", "clients",
			`clientsfile: clients: the member "clients" appears twice; a JSON object must name each member once`},
		{"start not RFC 3339", quota(`{"period":"day","limit":1,"start":"2022-01-01"}`), 0, "c1", "quotas[0].start",
			`clientsfile: clients[0] "c1": quotas[0].start: "2022-01-01" is not an RFC 3339 time such as 2022-01-01T00:00:00Z`},
		{"start not a string", quota(`{"period":"day","limit":1,"start":20220101}`), 0, "c1", "quotas[0].start",
			`clientsfile: clients[0] "c1": quotas[0].start: a JSON number where a string is expected`},
		{"start out of range", quota(`{"period":"day","limit":1,"start":"1600-01-01T00:00:00Z"}`), 0, "c1", "quotas[0].start",
			`clientsfile: clients[0] "c1": quotas[0].start: apibilling: invalid quota: day anchor 1600-01-01T00:00:00Z is outside the years 1700 to 2200`},
		{"unknown tz", quota(`{"period":"day","limit":1,"tz":"Europe/Berln"}`), 0, "c1", "quotas[0].tz",
			`clientsfile: clients[0] "c1": quotas[0].tz: unknown time zone "Europe/Berln"`},
		{"local tz", quota(`{"period":"day","limit":1,"tz":"Local"}`), 0, "c1", "quotas[0].tz",
			`clientsfile: clients[0] "c1": quotas[0].tz: "Local" is not an IANA time zone name such as "Europe/Berlin"`},
		{"empty tz", quota(`{"period":"day","limit":1,"tz":""}`), 0, "c1", "quotas[0].tz",
			`clientsfile: clients[0] "c1": quotas[0].tz: "" is not an IANA time zone name such as "Europe/Berlin"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := clientsfile.Parse([]byte(tc.data))
			if err == nil {
				t.Fatalf("Parse accepted %s: %+v", tc.data, f)
			}
			if f != nil {
				t.Errorf("Parse returned a file with its error")
			}
			if got := err.Error(); got != tc.msg {
				t.Errorf("error:\n got %s\nwant %s", got, tc.msg)
			}
			var e *clientsfile.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not a *clientsfile.Error", err)
			}
			if e.Index != tc.index || e.ID != tc.id || e.Field != tc.field {
				t.Errorf("error at %d %q %q, want %d %q %q", e.Index, e.ID, e.Field, tc.index, tc.id, tc.field)
			}
		})
	}
}

func TestParseErrorsWrapCore(t *testing.T) {
	_, err := clientsfile.Parse([]byte(`{"clients":[{"id":"","keys":["k"]}]}`))
	if !errors.Is(err, core.ErrInvalidClient) {
		t.Errorf("error %v does not wrap core.ErrInvalidClient", err)
	}
	_, err = clientsfile.Parse([]byte(quota(`{"period":"day","limit":1,"start":"2300-01-01T00:00:00Z"}`)))
	if !errors.Is(err, core.ErrInvalidQuota) {
		t.Errorf("error %v does not wrap core.ErrInvalidQuota", err)
	}
}

// TestParseErrorsKeepKeysSecret checks that no message repeats a key.
func TestParseErrorsKeepKeysSecret(t *testing.T) {
	for _, data := range []string{
		`{"clients":[{"id":"a","keys":["secret-1"]},{"id":"b","keys":["secret-1"]}]}`,
		`{"clients":[{"id":"a","keys":["secret-1","secret-1"]}]}`,
		`{"clients":[{"id":"a","keys":["secret 1"]}]}`,
	} {
		_, err := clientsfile.Parse([]byte(data))
		if err == nil {
			t.Errorf("Parse accepted %s", data)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q repeats a key", err)
		}
	}
}

func TestParseQuotas(t *testing.T) {
	qs, err := clientsfile.ParseQuotas([]byte(`{"quotas":[{"period":"day","limit":20,"tz":"Europe/Berlin"},{"period":"month","limit":-1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 2 || qs[0].Period != core.Day || qs[0].Limit != core.Whole(20) || qs[0].Anchor.Location().String() != "Europe/Berlin" || !qs[1].Limit.IsUnlimited() {
		t.Errorf("ParseQuotas = %+v", qs)
	}
	for _, bad := range []string{
		`{"quotas":[{"period":"day","limit":20},{"period":"day","limit":5}]}`,
		`{"quotas":[{"period":"day","limit":"20"}]}`,
		`{"quotas":[{"period":"day","limit":5,"limit":-1}]}`,
		`{"quotas":[{"period":"fortnight","limit":5}]}`,
		`{"quotas":[{"period":"day"}]}`,
		`{"quota":[]}`,
		`not json`,
	} {
		if _, err := clientsfile.ParseQuotas([]byte(bad)); err == nil {
			t.Errorf("ParseQuotas(%s) accepted", bad)
		}
	}
}
