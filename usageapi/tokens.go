package usageapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MaxTokenTTL is the longest a portal token lives, and its default.
const MaxTokenTTL = 24 * time.Hour

// tokenPrefix starts every portal token, so that it is recognisable in logs
// and never taken for an API key or the admin token.
const tokenPrefix = "abp_"

var (
	errTokenExpired = errors.New("portal token expired")
	errTokenInvalid = errors.New("portal token invalid")
)

// tokens mints and verifies portal tokens: tokenPrefix followed by the
// base64url of a payload (version, expiry in Unix seconds, a random ID, the
// client ID) and its HMAC-SHA256. Revoked IDs are kept until they expire.
type tokens struct {
	secret []byte
	mu     sync.Mutex
	revoke map[[16]byte]int64 // token ID -> expiry, Unix seconds
}

func newTokens(secret []byte, adminToken string) *tokens {
	if len(secret) == 0 {
		m := hmac.New(sha256.New, []byte("apibilling portal tokens v1"))
		m.Write([]byte(adminToken))
		secret = m.Sum(nil)
	}
	return &tokens{secret: secret, revoke: map[[16]byte]int64{}}
}

// mint returns a token for client that expires at exp.
func (t *tokens) mint(client string, exp time.Time) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	p := make([]byte, 0, 1+8+16+len(client)+sha256.Size)
	p = append(p, 1)
	p = binary.BigEndian.AppendUint64(p, uint64(exp.Unix()))
	p = append(p, id[:]...)
	p = append(p, client...)
	p = append(p, t.sign(p)...)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(p), nil
}

func (t *tokens) sign(p []byte) []byte {
	m := hmac.New(sha256.New, t.secret)
	m.Write(p)
	return m.Sum(nil)
}

// parse checks a token's signature and returns its parts.
func (t *tokens) parse(tok string) (id [16]byte, client string, exp int64, err error) {
	if !strings.HasPrefix(tok, tokenPrefix) {
		return id, "", 0, errTokenInvalid
	}
	p, derr := base64.RawURLEncoding.DecodeString(tok[len(tokenPrefix):])
	if derr != nil || len(p) < 1+8+16+sha256.Size || p[0] != 1 {
		return id, "", 0, errTokenInvalid
	}
	body, mac := p[:len(p)-sha256.Size], p[len(p)-sha256.Size:]
	if !hmac.Equal(mac, t.sign(body)) {
		return id, "", 0, errTokenInvalid
	}
	exp = int64(binary.BigEndian.Uint64(body[1:9]))
	copy(id[:], body[9:25])
	return id, string(body[25:]), exp, nil
}

// verify returns the client of a valid, unexpired, unrevoked token. ok is
// false with a nil error for a bearer value that is not a portal token.
func (t *tokens) verify(tok string, now time.Time) (client string, ok bool, err error) {
	if !strings.HasPrefix(tok, tokenPrefix) {
		return "", false, nil
	}
	id, client, exp, err := t.parse(tok)
	if err != nil {
		return "", false, err
	}
	if now.Unix() >= exp {
		return "", false, errTokenExpired
	}
	t.mu.Lock()
	_, revoked := t.revoke[id]
	t.mu.Unlock()
	if revoked {
		return "", false, errTokenInvalid
	}
	return client, true, nil
}

// revokeToken revokes a valid token; it reports false for one that is not.
func (t *tokens) revokeToken(tok string, now time.Time) bool {
	id, _, exp, err := t.parse(tok)
	if err != nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.revoke { // forget revocations of expired tokens
		if now.Unix() >= e {
			delete(t.revoke, k)
		}
	}
	if now.Unix() < exp {
		t.revoke[id] = exp
	}
	return true
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	a := r.Header.Get("Authorization")
	const scheme = "bearer "
	if len(a) <= len(scheme) || !strings.EqualFold(a[:len(scheme)], scheme) {
		return "", false
	}
	tok := strings.TrimSpace(a[len(scheme):])
	return tok, tok != ""
}

// equalTokens compares two secrets in constant time, whatever their
// lengths: it compares their SHA-256 digests.
func equalTokens(a, b string) bool {
	da, db := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(da[:], db[:]) == 1
}
