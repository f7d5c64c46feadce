package mysql

import (
	"testing"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/storetest"
)

func TestConformance(t *testing.T) {
	db := sharedDB(t)
	storetest.RunWithOptions(t, func(t *testing.T) core.Store {
		return newStore(t, db, &Options{Timeout: time.Minute})
	}, storetest.Options{
		Retention: func(t *testing.T, d time.Duration) core.Store {
			return newStore(t, db, &Options{Timeout: time.Minute, Retention: d})
		},
	})
}
