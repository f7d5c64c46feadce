package main

import "testing"

// TestVariants serves a few requests of every variant natively (no
// valgrind): a variant that fails to build or answers wrongly fails here,
// not minutes into a run of bench/run.sh.
func TestVariants(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range variants {
		if seen[v.name] {
			t.Errorf("variant %s listed twice", v.name)
		}
		seen[v.name] = true
		t.Run(v.name, func(t *testing.T) {
			serve, stop := v.build()
			defer stop()
			if err := loop(serve, 3); err != nil {
				t.Fatal(err)
			}
		})
	}
}
