package mongo

import (
	"errors"
	"strings"
)

// Client IDs, labels and keys may hold any bytes (NUL, bytes that are not
// UTF-8), while BSON strings must be UTF-8 and field names may not hold NUL,
// '.' or a leading '$'. The store writes them escaped: visible ASCII stays
// as it is, except the bytes below, which become %XX like every other
// byte. The result is UTF-8, never empty for a non-empty input, holds no
// '|' (which joins the parts of an _id), no '.' and no '$', and maps
// distinct inputs to distinct outputs.

// escapeTable marks the bytes escape keeps as they are.
var escapeTable = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = true
	}
	for _, c := range "%|.$" {
		t[c] = false
	}
	return t
}()

const hexDigits = "0123456789ABCDEF"

// escape returns s escaped.
func escape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !escapeTable[s[i]] {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if escapeTable[c] {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

var errEscape = errors.New("malformed escaped string")

// unescape reverses escape.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", errEscape
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return "", errEscape
		}
		b = append(b, byte(hi<<4|lo))
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// labelField returns the field name of label in a usage aggregate: "_"
// before the escaped label, so that the empty label has a name too.
func labelField(label string) string { return "_" + escape(label) }

// labelOf reverses labelField.
func labelOf(field string) (string, error) {
	if !strings.HasPrefix(field, "_") {
		return "", errEscape
	}
	return unescape(field[1:])
}
