package mysql

import (
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/storetest"
)

func TestConformance(t *testing.T) {
	db := sharedDB(t)
	storetest.Run(t, func(t *testing.T) core.Store { return newStore(t, db, &Options{Timeout: time.Minute}) })
}
