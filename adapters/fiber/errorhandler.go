package fiberbilling

import (
	"errors"
	"reflect"
	"strconv"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// AnsweredError is the error the middleware returns for a failure it has
// answered itself (500 invalid cost, 503 store unavailable), when the
// app's ErrorHandler is wrapped with [WrapErrorHandler]: the problem+json body
// is written already. Err is the billing error (errors.Is finds
// core.ErrStoreUnavailable, for example).
type AnsweredError struct {
	Status int
	Err    error
}

// Error returns the status and the billing error's text, which may name the
// client: log it, do not send it.
func (e *AnsweredError) Error() string {
	return "fiberbilling: answered " + strconv.Itoa(e.Status) + ": " + e.Err.Error()
}

// Unwrap returns the billing error.
func (e *AnsweredError) Unwrap() error { return e.Err }

// WrapErrorHandler wraps an app's error handler (nil: fiber.DefaultErrorHandler)
// so that it sees the failures the billing middleware has answered, to log
// them, without their answer being written twice:
//
//	app := fiber.New(fiber.Config{
//		ErrorHandler: fiberbilling.WrapErrorHandler(myErrorHandler),
//	})
//
// For an [*AnsweredError], next runs, then the middleware's answer (status,
// Content-Type and body) is put back, whatever next wrote; other errors go
// to next as they are. Without the wrapper, the middleware does not return
// these errors (Fiber's error handler would replace the problem+json body
// with text) and logs them with Config.Logger instead.
//
//go:noinline
func WrapErrorHandler(next fiber.ErrorHandler) fiber.ErrorHandler {
	// Not inlined: the middleware recognises the handlers it returns by
	// their code, which an inlined copy would not share.
	if next == nil {
		next = fiber.DefaultErrorHandler
	}
	return func(c *fiber.Ctx, err error) error {
		var ae *AnsweredError
		if !errors.As(err, &ae) {
			return next(c, err)
		}
		resp := c.Response()
		status := resp.StatusCode()
		ctype := string(resp.Header.ContentType())
		body := append([]byte(nil), resp.Body()...)
		herr := next(c, err)
		resp.SetStatusCode(status)
		resp.Header.SetContentType(ctype)
		resp.SetBody(body)
		return herr
	}
}

// wrapperPC is the code of the handlers WrapErrorHandler returns.
var wrapperPC = reflect.ValueOf(WrapErrorHandler(nil)).Pointer()

// wrappedApps remembers, per app, whether its ErrorHandler is wrapped.
type wrappedApps struct{ m sync.Map } // *fiber.App -> bool

// wrapped reports whether app's ErrorHandler comes from [WrapErrorHandler].
func (w *wrappedApps) wrapped(app *fiber.App) bool {
	if v, ok := w.m.Load(app); ok {
		return v.(bool)
	}
	is := reflect.ValueOf(app.Config().ErrorHandler).Pointer() == wrapperPC
	w.m.Store(app, is)
	return is
}
