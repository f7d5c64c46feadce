package adaptertest_test

import (
	"testing"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
)

// TestAdaptersAgree checks that the three adapters answer every case alike.
func TestAdaptersAgree(t *testing.T) {
	adaptertest.Compare(t, map[string]adaptertest.Maker{
		"gin":   adaptertest.Gin,
		"echo":  adaptertest.Echo,
		"fiber": adaptertest.Fiber,
	})
}
