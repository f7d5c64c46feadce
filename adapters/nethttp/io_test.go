package nethttpbilling

import "testing"

func TestPathPattern(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"/", "/"},
		{"/items/{id}", "/items/{id}"},
		{"GET /items/{id}", "/items/{id}"},
		{"GET  /x", "/x"},
		{"GET\t/x", "/x"},
		{"POST example.com/x", "example.com/x"},
		{"example.com/x", "example.com/x"},
	} {
		if got := pathPattern(tc.in); got != tc.want {
			t.Errorf("pathPattern(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
