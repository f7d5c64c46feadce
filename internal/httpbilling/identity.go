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
