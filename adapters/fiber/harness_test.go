package fiberbilling_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/frappy-go/apibilling/adapters/adaptertest"
	fiberbilling "github.com/frappy-go/apibilling/adapters/fiber"
	"github.com/frappy-go/apibilling/core"
)

// Fiber builds the suite's app with fiberbilling; it is served by the
// app's fasthttp handler on a fasthttp.RequestCtx, so that the headers are
// read exactly as set. The app's ErrorHandler is wrapped with
// WrapErrorHandler around one that reports the billing errors and writes a
// body of its own, which the wrapper replaces with the middleware's answer.
func Fiber(t *testing.T, env adaptertest.Env) adaptertest.App {
	cfg := fiberbilling.Config{
		Next:                 func(c *fiber.Ctx) bool { return adaptertest.SkipPath(c.Path()) },
		Billing:              env.Billing,
		FailOpen:             env.FailOpen,
		Logger:               env.Logger,
		DisableLegacyHeaders: env.NoLegacyHeaders,
		DisableDraftHeaders:  env.NoDraftHeaders,
		LimitHeader:          env.LimitHeader,
		RemainingHeader:      env.RemainingHeader,
		ResetHeader:          env.ResetHeader,
		StoreRetryAfter:      env.StoreRetryAfter,
		KeyHeader:            env.KeyHeader,
		Refund:               env.Refund,
		Observer:             env.Observer,
	}
	switch env.Identity {
	case adaptertest.QueryKey:
		cfg.Identity = fiberbilling.MapKey(fiberbilling.Query("api_key"), env.Lookup)
	case adaptertest.ContextClient:
		cfg.Identity = fiberbilling.ContextKey(adaptertest.ClientKey)
	default:
		cfg.Identity = fiberbilling.MapKey(fiberbilling.FirstOf(fiberbilling.Header("X-API-Key"), fiberbilling.Bearer()), env.Lookup)
	}
	if env.Label != "" {
		cfg.Label = func(*fiber.Ctx) string { return env.Label }
	}
	if env.Wiring == adaptertest.Global {
		cfg.Routes = adaptertest.Routes
	}
	if env.CustomHandlers {
		custom := func(kind string) fiberbilling.ErrorHandler {
			return func(c *fiber.Ctx, err error) error {
				status := fiberbilling.StatusOf(err)
				c.Set(fiber.HeaderContentType, "text/plain")
				return c.Status(status).SendString(adaptertest.CustomBody(kind, status))
			}
		}
		cfg.DenyHandler, cfg.ErrorHandler, cfg.IdentityHandler = custom("denied"), custom("error"), custom("identity")
	}
	bill := fiberbilling.NewMiddleware(cfg)
	send := func(c *fiber.Ctx, status int, ctype, body string) error {
		c.Set(fiber.HeaderContentType, ctype)
		return c.Status(status).SendString(body)
	}
	data := func(status int, route string) fiber.Handler {
		return func(c *fiber.Ctx) error { return send(c, status, "application/json", adaptertest.DataBody(route)) }
	}
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		ErrorHandler: fiberbilling.WrapErrorHandler(func(c *fiber.Ctx, err error) error {
			var ae *fiberbilling.AnsweredError
			if errors.As(err, &ae) && env.Report != nil {
				env.Report(ae.Err)
			}
			return fiber.DefaultErrorHandler(c, err) // overwritten by the wrapper for billing errors
		}),
	})
	app.Use(func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fiber.NewError(fiber.StatusInternalServerError)
			}
		}()
		return c.Next()
	})
	if env.Identity == adaptertest.ContextClient {
		app.Use(func(c *fiber.Ctx) error {
			if client, ok := env.Lookup(c.Get("X-API-Key")); ok {
				c.Locals(adaptertest.ClientKey, client)
			}
			return c.Next()
		})
	}
	if env.Wiring != adaptertest.RouteLevel {
		app.Use(bill.Handler())
	}
	route := func(path string, mw fiber.Handler, h fiber.Handler) {
		if env.Wiring == adaptertest.Global {
			app.Get(path, h)
			return
		}
		app.Get(path, mw, h)
	}
	app.Get("/api/compute", bill.CostFunc(func(c *fiber.Ctx) (core.Credits, error) {
		return adaptertest.UnitsCost(c.Query("units"), fiberbilling.BadCost)
	}), data(200, "compute"))
	app.Get("/api/broken", bill.CostFunc(func(*fiber.Ctx) (core.Credits, error) { return adaptertest.BrokenCost() }), data(200, "broken"))
	route("/health", bill.Handler(), func(c *fiber.Ctx) error { return send(c, 200, "text/plain", "ok") })
	route("/api/fetch-data", bill.Handler(), data(200, "fetch-data"))
	route("/api/fetch-expensive-data", bill.Cost(core.Whole(5)), data(200, "fetch-expensive-data"))
	route("/api/quota", bill.Cost(core.Whole(0)), data(200, "quota"))
	route("/api/unstable", bill.Handler(), data(503, "unstable"))
	route("/api/fail", bill.Handler(), func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusInternalServerError, "handler failed")
	})
	route("/api/panic", bill.Handler(), func(*fiber.Ctx) error { panic("handler panicked") })
	route("/api/outcome", bill.Handler(), func(c *fiber.Ctx) error {
		o, ok := fiberbilling.OutcomeFrom(c)
		if env.Keep != nil {
			env.Keep(o, ok)
		}
		return send(c, 200, "application/json", adaptertest.OutcomeBody(o, ok))
	})
	h := app.Handler()
	return func(req *http.Request) adaptertest.Response {
		var fc fasthttp.RequestCtx
		fc.Request.Header.SetMethod(req.Method)
		fc.Request.SetRequestURI(req.URL.RequestURI())
		fc.Request.Header.SetHost(req.Host)
		for k, vs := range req.Header {
			for _, v := range vs {
				fc.Request.Header.Add(k, v)
			}
		}
		h(&fc)
		resp := adaptertest.Response{Status: fc.Response.StatusCode(), Header: http.Header{}, Body: string(fc.Response.Body())}
		fc.Response.Header.VisitAll(func(k, v []byte) {
			resp.Header[string(k)] = append(resp.Header[string(k)], string(v))
		})
		return resp
	}
}
