package httpbilling

import (
	"math"
	"strconv"
	"testing"
)

func TestAppendInt(t *testing.T) {
	for _, v := range []int64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12345, 86400, 1_000_000_000, 9007199254,
		1796295298, math.MaxInt64, -1, -10, -99, -100, -12345, math.MinInt64, math.MinInt64 + 1} {
		if got, want := string(appendInt([]byte("x"), v)), "x"+strconv.FormatInt(v, 10); got != want {
			t.Errorf("appendInt(%d) = %q, want %q", v, got, want)
		}
	}
}

func TestDecimalText(t *testing.T) {
	var d decimalText
	for _, v := range []int64{0, 0, 7, 7, 1_000_000_000, 1_000_000_000, -3, 0,
		12, 11, 10, 9, 8, 2, 1, 0, -1, -2, 1001, 1000, 999, 998, 1, 0, math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MaxInt64} {
		if got, want := string(d.append([]byte("x"), v)), "x"+strconv.FormatInt(v, 10); got != want {
			t.Errorf("append(%d) = %q, want %q", v, got, want)
		}
	}
}

func FuzzAppendInt(f *testing.F) {
	f.Add(int64(0))
	f.Add(int64(math.MaxInt64))
	f.Add(int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, v int64) {
		if got, want := string(appendInt(nil, v)), strconv.FormatInt(v, 10); got != want {
			t.Errorf("appendInt(%d) = %q, want %q", v, got, want)
		}
	})
}
