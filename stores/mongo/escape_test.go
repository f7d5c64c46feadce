package mongo

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestEscape: escaped strings are UTF-8, hold no '|', '.', '$' or NUL,
// are never empty for a non-empty input, and unescape to the input.
func TestEscape(t *testing.T) {
	cases := []struct{ in, out string }{
		{"", ""},
		{"acme", "acme"},
		{"a b", "a%20b"},
		{"a|b", "a%7Cb"},
		{"a.b$c%d", "a%2Eb%24c%25d"},
		{"\x00", "%00"},
		{"\xff\xfe", "%FF%FE"},
		{"ä", "%C3%A4"},
	}
	for _, c := range cases {
		if got := escape(c.in); got != c.out {
			t.Errorf("escape(%q) = %q, want %q", c.in, got, c.out)
		}
		if back, err := unescape(c.out); err != nil || back != c.in {
			t.Errorf("unescape(%q) = %q, %v; want %q", c.out, back, err, c.in)
		}
	}
	for _, bad := range []string{"%", "%4", "%zz", "%4g", "a%"} {
		if _, err := unescape(bad); err == nil {
			t.Errorf("unescape(%q) succeeded, want an error", bad)
		}
	}
	if got, err := labelOf(labelField("")); err != nil || got != "" {
		t.Errorf("the empty label: %q, %v", got, err)
	}
}

// FuzzEscape checks escape's promises on any bytes.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a", "a|b.c$d%e", "\x00\xff", strings.Repeat("é", 10)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := escape(s)
		if !utf8.ValidString(e) || strings.ContainsAny(e, "|.$\x00") || s != "" && e == "" {
			t.Fatalf("escape(%q) = %q", s, e)
		}
		if back, err := unescape(e); err != nil || back != s {
			t.Fatalf("unescape(escape(%q)) = %q, %v", s, back, err)
		}
		f := labelField(s)
		if strings.HasPrefix(f, "$") || strings.ContainsAny(f, ".\x00") {
			t.Fatalf("labelField(%q) = %q", s, f)
		}
	})
}
