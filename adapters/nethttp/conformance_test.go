package nethttpbilling_test

import (
	"testing"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
)

func TestConformance(t *testing.T) {
	adaptertest.Run(t, NetHTTP)
}
