package httpbilling

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/frappy-go/apibilling/core"
)

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{&core.QuotaExceededError{}, 429},
		{fmt.Errorf("wrapped: %w", &core.QuotaExceededError{}), 429},
		{fmt.Errorf("x: %w", core.ErrNoQuotas), 403},
		{ErrNoIdentity, 401},
		{fmt.Errorf("x: %w", ErrUnknownClient), 401},
		{fmt.Errorf("x: %w", core.ErrInvalidClient), 401},
		{&CostError{Status: 400, Detail: "d"}, 400},
		{fmt.Errorf("x: %w", &CostError{Status: 422}), 422},
		{&CostError{Status: 200}, 500},
		{&CostError{Status: 600}, 500},
		{fmt.Errorf("x: %w", core.ErrStoreUnavailable), 503},
		{fmt.Errorf("x: %w", core.ErrInvalidCost), 500},
		{fmt.Errorf("x: %w", core.ErrInvalidKey), 400},
		{&core.IdempotencyConflictError{Key: "k"}, 422},
		{fmt.Errorf("x: %w", core.ErrUsageOverflow), 429},
		{fmt.Errorf("x: %w", core.ErrInvalidLabel), 500},
		{errors.New("other"), 500},
	} {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			if got := StatusOf(tc.err); got != tc.want {
				t.Errorf("StatusOf(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		in, tok string
		ok      bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc", "abc", true},
		{"Bearer ", "", false},
		{"Bearer    ", "", false},
		{"Bearer", "", false},
		{"Basic abc", "", false},
		{"Bearerabc", "", false},
		{"", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			tok, ok := BearerToken(tc.in)
			if tok != tc.tok || ok != tc.ok {
				t.Errorf("BearerToken(%q) = %q, %v, want %q, %v", tc.in, tok, ok, tc.tok, tc.ok)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"l1\nl2\r\t", `"l1\nl2\r\t"`},
		{"\x00\x1f\x7f", `"\u0000\u001f\u007f"`},
		{"bad \xff utf8", `"bad \ufffd utf8"`},
		{"é ☃ \u2028", `"é ☃ \u2028"`},
	} {
		if got := string(appendJSONString(nil, tc.in)); got != tc.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzAppendJSONString checks that any detail gives valid JSON that decodes
// as encoding/json decodes its own encoding.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff\xfe", "\u2029", "</script>", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString(nil, s)
		var dec string
		if err := json.Unmarshal(got, &dec); err != nil {
			t.Fatalf("invalid JSON %s: %v", got, err)
		}
		ref, _ := json.Marshal(s)
		var want string
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if dec != want {
			t.Fatalf("decoded %q, want %q", dec, want)
		}
		body := AppendProblem(nil, 400, s)
		if !json.Valid(body) {
			t.Fatalf("invalid problem %s", body)
		}
	})
}
