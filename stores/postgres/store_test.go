package postgres

import (
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/storetest"
)

func TestConformance(t *testing.T) {
	pool := sharedPool(t)
	storetest.Run(t, func(t *testing.T) core.Store { return newStore(t, pool, &Options{Timeout: time.Minute}) })
}
