//go:build !race

package httpbilling

const raceEnabled = false
