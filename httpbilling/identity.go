package httpbilling

import "strings"

// BearerToken returns the token of an Authorization header value of the
// Bearer scheme (RFC 6750; the scheme name is case-insensitive), or false.
func BearerToken(authorization string) (string, bool) {
	const scheme = "Bearer "
	if len(authorization) <= len(scheme) || !strings.EqualFold(authorization[:len(scheme)], scheme) {
		return "", false
	}
	tok := strings.TrimLeft(authorization[len(scheme):], " ")
	if tok == "" {
		return "", false
	}
	return tok, true
}

// Identify calls id on the request c, turning an empty client ID into
// [ErrNoIdentity]. F is an adapter's Identity type.
func Identify[F ~func(C) (string, error), C any](id F, c C) (string, error) {
	client, err := id(c)
	if err == nil && client == "" {
		err = ErrNoIdentity
	}
	return client, err
}

// FirstOf returns an identity that tries ids in order and returns the first
// answer that is not "no identity". The adapters' FirstOf is this one.
func FirstOf[F ~func(C) (string, error), C any](ids []F) F {
	ids = append([]F(nil), ids...)
	return func(c C) (string, error) {
		for _, id := range ids {
			client, err := Identify(id, c)
			if err == nil || !IsNoIdentity(err) {
				return client, err
			}
		}
		return "", ErrNoIdentity
	}
}

// MapKey returns an identity that looks up the key id finds, such as an API
// key, with lookup; a key lookup does not know is [ErrUnknownClient]. The
// adapters' MapKey is this one.
func MapKey[F ~func(C) (string, error), C any](id F, lookup func(key string) (client string, ok bool)) F {
	return func(c C) (string, error) {
		key, err := id(c)
		if err != nil {
			return "", err
		}
		if key == "" {
			return "", ErrNoIdentity
		}
		client, ok := lookup(key)
		if !ok || client == "" {
			return "", ErrUnknownClient
		}
		return client, nil
	}
}
