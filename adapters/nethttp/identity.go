package nethttpbilling

import (
	"net/http"
	"net/textproto"

	"github.com/frappy-go/apibilling/httpbilling"
)

// Identity returns the client ID of a request. It returns an error that
// wraps [ErrNoIdentity] when the request carries no identity and
// [ErrUnknownClient] when it names no client: both answer 401. An empty
// client ID with a nil error counts as no identity. Other errors answer
// 500, or 503 if they wrap [core.ErrStoreUnavailable].
type Identity func(r *http.Request) (client string, err error)

// Header identifies the client by the value of the request header name,
// such as "X-API-Key".
func Header(name string) Identity {
	key := textproto.CanonicalMIMEHeaderKey(name) // once, not per request
	return func(r *http.Request) (string, error) {
		if vs := r.Header[key]; len(vs) > 0 && vs[0] != "" {
			return vs[0], nil
		}
		return "", ErrNoIdentity
	}
}

// Bearer identifies the client by the token of an "Authorization: Bearer
// TOKEN" header.
func Bearer() Identity {
	return func(r *http.Request) (string, error) {
		if tok, ok := httpbilling.BearerToken(r.Header.Get("Authorization")); ok {
			return tok, nil
		}
		return "", ErrNoIdentity
	}
}

// Query identifies the client by the query parameter name. Query strings
// end up in logs and browser histories: prefer a header.
func Query(name string) Identity {
	return func(r *http.Request) (string, error) {
		if v := r.URL.Query().Get(name); v != "" {
			return v, nil
		}
		return "", ErrNoIdentity
	}
}

// ContextKey identifies the client by the string an earlier middleware,
// such as an authentication middleware, stored in the request's context
// with context.WithValue(ctx, key, client).
func ContextKey(key any) Identity {
	return func(r *http.Request) (string, error) {
		if s, ok := r.Context().Value(key).(string); ok && s != "" {
			return s, nil
		}
		return "", ErrNoIdentity
	}
}

// FirstOf tries ids in order and returns the first answer that is not "no
// identity".
func FirstOf(ids ...Identity) Identity { return httpbilling.FirstOf(ids) }

// MapKey identifies the client by looking up the key that id finds, such as
// an API key, with lookup; a key that lookup does not know answers 401 with
// [ErrUnknownClient].
func MapKey(id Identity, lookup func(key string) (client string, ok bool)) Identity {
	return httpbilling.MapKey(id, lookup)
}
