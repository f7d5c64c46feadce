package redis

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/frappy-go/apibilling/core"
)

// Key layout. Every key of one client starts with the client's hash
// <prefix>:{<tag>}, so all of them hash to one Redis Cluster slot:
//
//	<prefix>:{<tag>}           hash: the client (see clientFields)
//	<prefix>:{<tag>}:d:<day>   hash: usage aggregates of older hours whose
//	                           start falls on Unix day <day>; field
//	                           <start><end><label>, value the credits
//	<prefix>:{<tag>}:i         sorted set: the <day>s that have a hash,
//	                           scored by the day number
//	<prefix>:{<tag>}:k:<key>   string: the record of idempotency key <key>
//	<prefix>:{<tag>}:ki        sorted set: the client's keys, scored by the
//	                           Unix millisecond their record expires at
//	<prefix>:import            string: the ID of an import in progress
//
// <tag> is the client ID with '%', '{' and '}' written as %25, %7B and %7D
// (and the empty ID as a lone '%'), so that no ID can end the tag early or
// collide with another; any other byte, ':' and NUL included, is kept.
// <day> is the day number floor(start / 24 h) of Unix time, written as a
// sign and seven digits ("+0020631"), so that the member and the key
// suffix are one string.
//
// clientFields: the client hash holds, for each period p (one digit):
//
//	<p><start>  the credits used in the window of period p starting at
//	            start (8 bytes, see appendTime), in micro-credits
//	s<p>        that window's start and end (8 bytes each)
//	f<p>        its threshold bits (decimal; absent is none)
//
// and the latest hour aggregate (the "current bucket"):
//
//	b               the bucket: start and end (8 bytes each) and <day>
//	l<start><label> the credits of the bucket under label
//	k               present when the client has idempotency keys but no
//	                counters
//
// Naming a counter by its window's start and an aggregate by its hour's
// start makes the common charge a read and a write of fields whose names
// the caller computes: a field that exists is the one to add to. Older
// hours live in the day hashes; a charge into a later hour moves the
// current bucket's labels there (once per hour and client).

// timeLen, bucketLen and dayLen are the lengths of encoded times,
// buckets and day numbers.
const (
	timeLen   = 8
	dayLen    = 8
	bucketLen = 2*timeLen + dayLen
	dayNs     = int64(24 * 60 * 60 * 1e9)
)

// appendTag appends "<prefix>:{<tag>}" to b: the key of client's hash.
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
	return append(b, '}')
}

// clientOf returns the client ID of a client hash's key under prefix, and
// whether key is one.
func clientOf(key, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(key, prefix+":{")
	if !ok || len(rest) < 2 || rest[len(rest)-1] != '}' {
		return "", false
	}
	tag := rest[:len(rest)-1]
	if strings.ContainsAny(tag, "{}") {
		return "", false
	}
	if tag == "%" {
		return "", true
	}
	if strings.IndexByte(tag, '%') < 0 {
		return tag, true
	}
	var b strings.Builder
	for i := 0; i < len(tag); i++ {
		if tag[i] != '%' {
			b.WriteByte(tag[i])
			continue
		}
		switch {
		case strings.HasPrefix(tag[i:], "%25"):
			b.WriteByte('%')
		case strings.HasPrefix(tag[i:], "%7B"):
			b.WriteByte('{')
		case strings.HasPrefix(tag[i:], "%7D"):
			b.WriteByte('}')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

// appendTime appends t as the 8 big-endian bytes of uint64(t) XOR 2^63, so
// that encoded times order byte by byte as the times do, negative times
// included.
func appendTime(b []byte, t int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t)^(1<<63))
}

// parseTime reverses appendTime.
func parseTime(s string) (int64, bool) {
	if len(s) != timeLen {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64([]byte(s)) ^ (1 << 63)), true
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

// dayOf returns the Unix day number of t: floor(t / 24 h).
func dayOf(t int64) int64 {
	q := t / dayNs
	if t%dayNs < 0 {
		q--
	}
	return q
}

// appendDay appends a day number as a sign and seven digits.
func appendDay(b []byte, d int64) []byte {
	if d < 0 {
		return appendPadded(append(b, '-'), uint64(-d), dayLen-1)
	}
	return appendPadded(append(b, '+'), uint64(d), dayLen-1)
}

// appendBucket appends a bucket: start, end and day number.
func appendBucket(b []byte, s core.Span) []byte {
	b = appendTime(b, s.Start)
	b = appendTime(b, s.End)
	return appendDay(b, dayOf(s.Start))
}

// appendCounter appends the field of a window's counter: the period digit
// and the start.
func appendCounter(b []byte, w *core.Window) []byte {
	return appendTime(append(b, byte('0'+w.Period)), w.Start)
}

// appendLabelField appends the field of an aggregate of the current hour:
// 'l', the hour's start and the label.
func appendLabelField(b []byte, bucket core.Span, label string) []byte {
	b = appendTime(append(b, 'l'), bucket.Start)
	return append(b, label...)
}

// appendLimit appends a window's limit and, if it has any, its alert
// levels: "-1" for unlimited, else the limit in micro-credits, then
// ",l0,l1,l2,l3" when a level is set.
func appendLimit(b []byte, w *core.Window) []byte {
	switch {
	case w.Limit < 0:
		b = append(b, "-1"...)
	default:
		b = strconv.AppendInt(b, w.Limit, 10)
	}
	if w.Levels != [core.MaxLevels]int64{} {
		for _, l := range w.Levels {
			b = append(b, ',')
			b = strconv.AppendInt(b, max(l, 0), 10)
		}
	}
	return b
}

// maxDecimal is core.MaxUsage as the scripts compare it: 19 digits.
const maxDecimal = "9223372036854775807"

// appendRoom appends MaxUsage - used as 19 digits: the most a counter may
// hold before adding used (0 <= used).
func appendRoom(b []byte, used int64) []byte {
	return appendPadded(b, uint64(core.MaxUsage-used), len(maxDecimal))
}

// msCeil returns t in Unix milliseconds, rounded up, and at least 1.
func msCeil(t int64) int64 {
	ms := t / 1e6
	if t%1e6 > 0 {
		ms++
	}
	return max(ms, 1)
}
