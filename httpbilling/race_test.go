//go:build race

package httpbilling

const raceEnabled = true
