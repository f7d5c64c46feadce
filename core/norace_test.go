//go:build !race

package core_test

// raceEnabled reports whether the tests run with the race detector.
const raceEnabled = false
