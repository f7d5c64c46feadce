// Package cgresult is the JSON that cmd/callgrind writes and cmd/report
// reads: instructions and allocations per request of each variant.
package cgresult

// Output is the JSON cmd/callgrind writes.
type Output struct {
	// N is the number of requests of the shorter run; the longer serves 2N.
	N int `json:"n"`
	// Warmup is the number of requests served before either run counts.
	Warmup   int    `json:"warmup"`
	Valgrind string `json:"valgrind"`
	Go       string `json:"go"`
	// Started is when the measurements started, Unix seconds.
	Started int64 `json:"started"`
	// LoadAvg is /proc/loadavg before and after: callgrind's counts do not
	// depend on it, the time the run took does.
	LoadAvg  [2]string `json:"loadavg"`
	Variants []Result  `json:"variants"`
}

// Result is one variant's figures.
type Result struct {
	Name string `json:"name"`
	// Instructions are callgrind's totals of the runs of N and 2N requests.
	Instructions [2]int64 `json:"instructions"`
	// PerRequest is (Instructions[1] - Instructions[0]) / N: the whole
	// program's instructions, the garbage collector's included (run
	// stop-the-world, so that its work does not depend on timing).
	PerRequest float64 `json:"instructions_per_request"`
	// NoGC are the totals of the same runs with the garbage collector off,
	// counting only the goroutine that serves the requests; NoGCPerRequest
	// is their difference per request: the request path alone.
	NoGC           [2]int64 `json:"instructions_nogc"`
	NoGCPerRequest float64  `json:"instructions_per_request_nogc"`
	// Allocs and Bytes are the heap allocations per request, counted
	// natively (runtime.MemStats) over the same number of requests.
	Allocs float64 `json:"allocs_per_request"`
	Bytes  float64 `json:"bytes_per_request"`
}

// Find returns the variant named name.
func (o *Output) Find(name string) (Result, bool) {
	for _, v := range o.Variants {
		if v.Name == name {
			return v, true
		}
	}
	return Result{}, false
}
