package main

import (
	"bufio"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// bench is one benchmark's figures: the median of each metric over the
// runs of -count.
type bench struct {
	Name    string
	Runs    int
	Metrics map[string]float64 // unit -> median value: "ns/op", "B/op", "allocs/op", "deductions/s"
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parseBench reads `go test -bench` output. Names lose their -GOMAXPROCS
// suffix; repeated runs of one name are folded into medians.
func parseBench(r io.Reader) (map[string]*bench, error) {
	samples := map[string]map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		m := samples[name]
		if m == nil {
			m = map[string][]float64{}
			samples[name] = m
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			m[f[i+1]] = append(m[f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := map[string]*bench{}
	for _, name := range order {
		b := &bench{Name: name, Metrics: map[string]float64{}}
		for unit, vs := range samples[name] {
			b.Metrics[unit] = median(vs)
			b.Runs = max(b.Runs, len(vs))
		}
		out[name] = b
	}
	return out, nil
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
