package httpbilling

import (
	"context"
	"net/http"
)

// The adapters of frameworks whose requests are *http.Request (gin, echo,
// net/http) keep a request's State in the request's context, as
// instrumentation middleware such as otelgin keeps its span: the
// middleware hands the rest of the chain a shallow copy of the request
// whose context carries the State ([WithState]), finds it there
// ([StateFrom]), and puts the original request back when it is done
// ([WithoutState]). That costs one allocation (the context and the copy of
// the request together), less than a framework's key-value store that is
// allocated for the first value of each request.

// requestContext is the context of a request that a billing handler
// serves: its parent is the request's context before the middleware.
type requestContext struct {
	context.Context
	st   *State        // nil once the middleware is done with the request
	orig *http.Request // the request the middleware was given
}

// headersContext is a requestContext for a middleware that sends
// rate-limit headers: vals holds the value slices that [Headers.SetIn]
// puts in the response's header map, which the server may write after the
// middleware has returned and the State is reused.
type headersContext struct {
	requestContext
	vals [numHeaders]string
}

// stateKey is the key under which a requestContext finds itself.
type stateKey struct{}

// Value returns the requestContext itself for stateKey, and the parent's
// value for any other key.
func (c *requestContext) Value(key any) any {
	if key == (stateKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// WithState returns a shallow copy of r whose context carries s, for the
// handlers after the middleware: [StateFrom] finds s in it, and in every
// request derived from it. Adapters call it from [IO.Store].
func WithState(r *http.Request, s *State) *http.Request {
	if m := s.headers.m; m != nil && (m.legacy || m.draft) {
		c := &headersRequest{headersContext: headersContext{requestContext: requestContext{Context: r.Context(), st: s, orig: r}}}
		s.headers.vals = &c.vals
		c.req = *r.WithContext(&c.headersContext) // inlined: the copy WithContext makes stays on the stack
		return &c.req
	}
	c := &stateRequest{requestContext: requestContext{Context: r.Context(), st: s, orig: r}}
	c.req = *r.WithContext(&c.requestContext)
	return &c.req
}

// stateRequest and headersRequest hold the request that [WithState]
// returns together with its context: one allocation, not two. Neither is
// reused: a handler may keep the request or its context.
type stateRequest struct {
	requestContext
	req http.Request
}

type headersRequest struct {
	headersContext
	req http.Request
}

// WithoutState undoes the latest [WithState] whose request r is, or is
// derived from: it returns the request WithState was given, and from then
// on StateFrom finds nothing in r or any request that shares its context
// (a copy a handler kept), since the State is reused once the request is
// done. Adapters call it from [IO.Restore].
func WithoutState(r *http.Request) *http.Request {
	c, _ := r.Context().Value(stateKey{}).(*requestContext)
	if c == nil {
		return r
	}
	c.st = nil
	return c.orig
}

// StateFrom returns the State that [WithState] stored in r's context, or
// nil.
func StateFrom(r *http.Request) *State {
	c, _ := r.Context().Value(stateKey{}).(*requestContext)
	if c == nil {
		return nil
	}
	return c.st
}
