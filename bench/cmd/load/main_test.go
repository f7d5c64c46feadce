package main

import (
	"os"
	"testing"
	"time"

	"github.com/frappy-go/apibilling/bench/internal/apps"
	"github.com/frappy-go/apibilling/clientsfile"
	"github.com/frappy-go/apibilling/core"
)

// The clients file given to the example apps must parse, map the benchmark
// key to the benchmark client, and give it quotas of apps.Limit.
func TestClientsJSON(t *testing.T) {
	f, err := clientsfile.Parse(clientsJSON())
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := f.ClientForKey(apps.Key); !ok || id != apps.ClientID {
		t.Fatalf("ClientForKey(%q) = %q, %v; want %q", apps.Key, id, ok, apps.ClientID)
	}
	b := core.New(nilStore{})
	if err := f.Apply(b); err != nil {
		t.Fatal(err)
	}
	qs := b.Quotas(apps.ClientID)
	if len(qs) != 2 {
		t.Fatalf("quotas = %v, want a day and a month", qs)
	}
	for _, q := range qs {
		if q.Limit != apps.Limit {
			t.Errorf("%s limit = %v, want %v", q.Period, q.Limit, apps.Limit)
		}
	}
}

func TestSplit(t *testing.T) {
	if got := split(" gin, echo,,fiber "); len(got) != 3 || got[0] != "gin" || got[2] != "fiber" {
		t.Errorf("split = %q", got)
	}
}

// nilStore is a store that is never called: Apply only sets quotas.
type nilStore struct{ core.Store }

func TestProcessCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for processCPU(os.Getpid()) == 0 && time.Now().Before(deadline) {
		x++ // burn CPU until a tick has been counted
	}
	if processCPU(os.Getpid()) == 0 {
		t.Errorf("processCPU of a busy process is still 0 (after %d loops)", x)
	}
}
