package redis

import (
	"strconv"

	"github.com/frappy-go/apibilling/core"
)

// Key layout. Every key of one client shares the hash tag {<client>}, so a
// script that touches them runs on one Redis Cluster slot:
//
//	<prefix>:{<client>}:w:<period>  hash: s = window start, u = credits used,
//	                                x = expiry in Unix milliseconds
//	<prefix>:{<client>}:d           hash: one field per day and label, plus p
//
// <client> is the client ID with '%', '{' and '}' written as %25, %7B and
// %7D (and the empty ID as a lone '%'), so that no ID can end the tag early
// or collide with another; any other byte, ':' and NUL included, is kept.

// recordLen is the length of a window record in a script's arguments.
const recordLen = 72

// appendTag appends "<prefix>:{<client>}:" appended to b.
func appendTag(b []byte, prefix, client string) []byte {
	b = append(b, prefix...)
	b = append(b, ":{"...)
	if client == "" {
		b = append(b, '%')
	}
	for i := 0; i < len(client); i++ {
		switch c := client[i]; c {
		case '%':
			b = append(b, "%25"...)
		case '{':
			b = append(b, "%7B"...)
		case '}':
			b = append(b, "%7D"...)
		default:
			b = append(b, c)
		}
	}
	return append(b, "}:"...)
}

// periodSuffix names the window counter of each period.
var periodSuffix = [core.MaxQuotas]string{}

func init() {
	for p := range core.Period(core.MaxQuotas) {
		periodSuffix[p] = "w:" + p.String()
	}
}

// keys returns the keys of client's window counters for ws and, when day is
// true, of its day aggregates last. They share one allocation.
func (s *Store) keys(client string, ws []core.Window, day bool) []string {
	n := len(ws)
	if day {
		n++
	}
	var arr [core.MaxQuotas + 1]int // end offset of each key
	var stack [512]byte
	buf := stack[:0]
	for i, w := range ws {
		buf = appendTag(buf, s.prefix, client)
		if w.Period.Valid() {
			buf = append(buf, periodSuffix[w.Period]...)
		} else {
			buf = append(buf, "w:"...)
			buf = strconv.AppendUint(buf, uint64(w.Period), 10)
		}
		arr[i] = len(buf)
	}
	if day {
		buf = appendTag(buf, s.prefix, client)
		buf = append(buf, 'd')
		arr[len(ws)] = len(buf)
	}
	all := string(buf)
	keys := make([]string, n)
	from := 0
	for i := range keys {
		keys[i] = all[from:arr[i]]
		from = arr[i]
	}
	return keys
}

// appendTime appends t as 20 decimal digits of uint64(t) XOR 2^63, so that
// equal-width strings order as the times do, negative times included.
func appendTime(b []byte, t int64) []byte {
	return appendPadded(b, uint64(t)^(1<<63), 20)
}

// parseTime reverses appendTime.
func parseTime(s string) (int64, bool) {
	if len(s) != 20 {
		return 0, false
	}
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return int64(u ^ (1 << 63)), true
}

// appendPadded appends u in decimal, zero-padded to width digits.
func appendPadded(b []byte, u uint64, width int) []byte {
	var d [20]byte
	i := len(d)
	for u > 0 || i == len(d) {
		i--
		d[i] = byte('0' + u%10)
		u /= 10
	}
	for pad := width - (len(d) - i); pad > 0; pad-- {
		b = append(b, '0')
	}
	return append(b, d[i:]...)
}

// appendWindows appends the window records of ws: start, end, limit and the
// counter's expiry in Unix milliseconds, no earlier than nowMs (so a counter
// of a window that the caller's clock places in the past still lives for
// the grace after each write).
func (s *Store) appendWindows(b []byte, ws []core.Window, nowMs int64) []byte {
	for _, w := range ws {
		b = appendTime(b, w.Start)
		b = appendTime(b, w.End)
		switch {
		case w.Limit == core.Unlimited:
			b = append(b, "-000000000000001"...)
		case w.Limit < 0: // not a valid limit: admits nothing but zero costs
			b = appendPadded(b, 0, 16)
		default: // limits above MaxCredits are not valid either
			b = appendPadded(b, uint64(min(w.Limit, core.MaxCredits)), 16)
		}
		exp := max(w.End/1e6, nowMs) + s.graceMs
		b = appendPadded(b, uint64(max(exp, 1)), 16)
	}
	return b
}

// appendDayField appends the field of a day aggregate: the day's start and
// end, then the label.
func appendDayField(b []byte, d core.DaySpan, label string) []byte {
	b = appendTime(b, d.Start)
	b = appendTime(b, d.End)
	return append(b, label...)
}
