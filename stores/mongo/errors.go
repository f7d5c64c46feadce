package mongo

import (
	"context"
	"errors"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/storecall"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// errs makes the store's errors: a failure of the server, the network or
// the context matches [core.ErrStoreUnavailable] and its cause, and
// [core.ErrOutcomeUnknown] too when a write had been sent whose answer was
// lost.
const errs = storecall.Store("mongo")

// errContention is the error of a change that lost the race for a
// client's document more times than the store retries.
var errContention = errors.New("too many concurrent changes of the client; retries exhausted")

// opError wraps err, an error of operation op, as the store returns it.
// sent says whether a write may have reached the server.
func opError(op string, err error, sent bool) error {
	if err == nil {
		return nil
	}
	var se *storecall.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, core.ErrClosed) {
		return errs.Closed(op) // the store's own check: said once, not wrapped again
	}
	return errs.Err(op, err, sent && !definite(err))
}

// definite reports whether err says for certain that a write was not
// applied: the server was never reached, or it refused the write.
func definite(err error) bool {
	if errors.Is(err, errContention) || errors.Is(err, errCorrupt) {
		return true
	}
	var sel topology.ServerSelectionError
	var wq topology.WaitQueueTimeoutError
	if errors.As(err, &sel) || errors.As(err, &wq) || errors.Is(err, mongo.ErrClientDisconnected) ||
		errors.Is(err, driver.ErrDeadlineWouldBeExceeded) {
		return true // no connection, or too little time left: nothing was sent
	}
	var we mongo.WriteException
	if errors.As(err, &we) && len(we.WriteErrors) > 0 && we.WriteConcernError == nil {
		return true
	}
	return false
}

// deadline reports whether err is the end of a context or a timeout.
func deadline(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || mongo.IsTimeout(err)
}
