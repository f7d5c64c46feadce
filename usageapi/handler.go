package usageapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/frappy-go/apibilling/core"
)

// Config configures the usage API. Billing and Identity are required.
type Config struct {
	// Billing holds the clients' quotas and reads the usage.
	Billing *core.Billing

	// Identity finds the client of a self-service request, as the API's
	// middleware does (the same API key header, say). It returns an error
	// for a request without a valid identity, which is answered 401.
	Identity func(r *http.Request) (client string, err error)

	// AdminToken enables the operator endpoints: a request carrying
	// "Authorization: Bearer AdminToken" may read and change every client.
	// Empty (the default) disables them: they answer 404.
	AdminToken string

	// TokenSecret signs portal tokens. Default: derived from AdminToken, so
	// changing the admin token invalidates every portal token.
	TokenSecret []byte

	// ParseQuotas reads the body of PUT api/clients/{id}/quotas. Default:
	// nil, and that endpoint answers 501. The example apps pass the clients
	// file's quota parser.
	ParseQuotas func(body []byte) ([]core.Quota, error)

	// Backup writes a consistent copy of the store for GET api/backup,
	// such as the bbolt store's Backup. Default: nil (404).
	Backup func(ctx context.Context, w io.Writer) (int64, error)

	// MaxRange is the longest range a usage query may span. Default: 400
	// days.
	MaxRange time.Duration

	// Logger receives failures of the store and of writing answers.
	// Default: slog.Default().
	Logger *slog.Logger
}

// DefaultMaxRange is the default of [Config].MaxRange.
const DefaultMaxRange = 400 * 24 * time.Hour

// Handler is the usage API and dashboard; create it with [New].
type Handler struct {
	cfg    Config
	mux    *http.ServeMux
	tokens *tokens
	zones  zoneCache
}

// New returns the usage API configured by cfg. It panics if cfg.Billing or
// cfg.Identity is nil.
func New(cfg Config) *Handler {
	if cfg.Billing == nil {
		panic("apibilling/usageapi: New expects a non-nil Config.Billing")
	}
	if cfg.Identity == nil {
		panic("apibilling/usageapi: New expects a non-nil Config.Identity")
	}
	if cfg.MaxRange <= 0 {
		cfg.MaxRange = DefaultMaxRange
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), tokens: newTokens(cfg.TokenSecret, cfg.AdminToken)}
	h.routes()
	return h
}

// ServeHTTP implements [http.Handler]. Paths are relative to the mount
// point: strip the prefix with [http.StripPrefix].
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "" {
		// The mount point without its slash ("/billing"): the page's
		// relative URLs need it.
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			http.Redirect(w, r, u.Path+"/", http.StatusMovedPermanently)
			return
		}
		r.URL.Path = "/"
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.noRoute(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// noRoute answers a request that no endpoint serves with a problem: 405
// with Allow when the path exists for other methods, else 404.
func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		rr := r.Clone(r.Context())
		rr.Method = m
		if _, p := h.mux.Handler(rr); p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		problem(w, http.StatusMethodNotAllowed, "This endpoint does not accept "+r.Method+".")
		return
	}
	problem(w, http.StatusNotFound, "No such endpoint.")
}

func (h *Handler) routes() {
	m := h.mux
	// Self-service.
	m.HandleFunc("GET /api/me", h.self(h.status))
	m.HandleFunc("GET /api/me/usage", h.self(h.usage))
	// Operator, or the client itself.
	m.HandleFunc("GET /api/clients/{id}", h.clientScoped(h.status))
	m.HandleFunc("GET /api/clients/{id}/usage", h.clientScoped(h.usage))
	// Operator only.
	m.HandleFunc("GET /api/clients", h.admin(h.listClients))
	m.HandleFunc("GET /api/usage", h.admin(h.allUsage))
	m.HandleFunc("GET /api/top", h.admin(h.top))
	m.HandleFunc("DELETE /api/clients/{id}/usage", h.admin(h.deleteUsage))
	m.HandleFunc("PUT /api/clients/{id}/quotas", h.admin(h.putQuotas))
	m.HandleFunc("POST /api/clients/{id}/portal-tokens", h.admin(h.mintToken))
	m.HandleFunc("DELETE /api/portal-tokens/{token}", h.admin(h.revokeToken))
	m.HandleFunc("GET /api/backup", h.admin(h.backup))
	// The dashboard, everywhere else.
	m.Handle("GET /{path...}", dashboardHandler())
}

// caller is who a request is answered for.
type caller struct {
	client string // the client of a self-service request or portal token
	admin  bool
}

// authenticate finds the caller: the operator (admin token), a portal
// token's client, or the client the API's identity finds.
func (h *Handler) authenticate(r *http.Request) (caller, error) {
	if tok, ok := bearer(r); ok {
		if h.cfg.AdminToken != "" && equalTokens(tok, h.cfg.AdminToken) {
			return caller{admin: true}, nil
		}
		if client, ok, err := h.tokens.verify(tok, h.now()); ok {
			return caller{client: client}, nil
		} else if err != nil {
			return caller{}, err
		}
	}
	client, err := h.cfg.Identity(r)
	if err != nil || client == "" {
		return caller{}, errUnauthorized
	}
	return caller{client: client}, nil
}

var errUnauthorized = errors.New("unauthorized")

// endpoint answers a request for one client.
type endpoint func(w http.ResponseWriter, r *http.Request, client string, c caller)

// self serves the caller's own data.
func (h *Handler) self(e endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := h.authenticate(r)
		if err != nil || c.admin {
			// The operator has no client of its own.
			h.unauthorized(w, err)
			return
		}
		e(w, r, c.client, c)
	}
}

// clientScoped serves one client's data to the operator, or to the client
// itself; any other caller gets 404, as for a client that does not exist.
func (h *Handler) clientScoped(e endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := h.authenticate(r)
		if err != nil {
			h.unauthorized(w, err)
			return
		}
		id := r.PathValue("id")
		if !c.admin && id != c.client {
			problem(w, http.StatusNotFound, "No such client.")
			return
		}
		if c.admin && h.cfg.Billing.Quotas(id) == nil {
			problem(w, http.StatusNotFound, "No such client.")
			return
		}
		e(w, r, id, c)
	}
}

// admin serves the operator only; without an admin token configured the
// endpoint does not exist.
func (h *Handler) admin(e endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.cfg.AdminToken == "" {
			problem(w, http.StatusNotFound, "No such endpoint.")
			return
		}
		c, err := h.authenticate(r)
		if err != nil || !c.admin {
			h.unauthorized(w, err)
			return
		}
		e(w, r, r.PathValue("id"), c)
	}
}

func (h *Handler) unauthorized(w http.ResponseWriter, err error) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="apibilling"`)
	detail := "Missing or invalid credentials."
	if errors.Is(err, errTokenExpired) {
		detail = "The portal token has expired."
	}
	problem(w, http.StatusUnauthorized, detail)
}

// now returns the billing clock's time.
func (h *Handler) now() time.Time { return h.cfg.Billing.Now() }

func (h *Handler) logger() *slog.Logger {
	if h.cfg.Logger != nil {
		return h.cfg.Logger
	}
	return slog.Default()
}

// storeFailed answers a failure of the store (503), or of the request's
// input (400), and logs the store's.
func (h *Handler) failed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, core.ErrStoreUnavailable):
		h.logger().LogAttrs(r.Context(), slog.LevelError, "apibilling/usageapi: store unavailable", slog.Any("error", err))
		w.Header().Set("Retry-After", "1")
		problem(w, http.StatusServiceUnavailable, "Usage is temporarily unavailable. Retry later.")
	case errors.Is(err, core.ErrNoQuotas):
		problem(w, http.StatusNotFound, "No such client.")
	case errors.Is(err, core.ErrInvalidClient):
		problem(w, http.StatusNotFound, "No such client.")
	default:
		h.logger().LogAttrs(r.Context(), slog.LevelError, "apibilling/usageapi: request failed", slog.Any("error", err))
		problem(w, http.StatusInternalServerError, "The request failed.")
	}
}
