package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/labstack/echo/v4"

	"github.com/frappy-go/apibilling/bench/internal/apps"
	"github.com/frappy-go/apibilling/core"
)

var exitCode int

func main() {
	defer func() { os.Exit(exitCode) }()
	framework := flag.String("framework", "gin", "gin, echo, fiber or nethttp")
	mode := flag.String("mode", "bare", "bare, anchor, memory or bolt")
	headers := flag.String("headers", "all", "rate-limit headers when billed: all, legacy or noheaders")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	db := flag.String("db", "benchserver.db", "bolt file of -mode bolt")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatalf("benchserver: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatalf("benchserver: %v", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				log.Printf("benchserver: %v", err)
			}
		}()
	}
	if err := run(*framework, *mode, *headers, *addr, *db); err != nil {
		log.Printf("benchserver: %v", err)
		exitCode = 1
	}
}

func run(framework, mode, headerNames, addr, db string) error {
	h, err := apps.ParseHeaders(headerNames)
	if err != nil {
		return err
	}
	var billing *core.Billing
	switch mode {
	case "bare", "anchor":
	case "memory":
		billing = apps.MemoryBilling()
	case "bolt":
		if billing, err = apps.BoltBilling(db); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	if billing != nil {
		defer func() {
			if err := billing.Store().Close(); err != nil {
				log.Printf("benchserver: closing the store: %v", err)
			}
		}()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch framework {
	case "gin":
		var mw []gin.HandlerFunc
		switch {
		case billing != nil:
			mw = append(mw, apps.GinBilling(billing, h))
		case mode == "anchor":
			mw = append(mw, apps.UluleGin())
		}
		return serveHTTP(ctx, addr, apps.Gin(mw...))
	case "echo":
		var mw []echo.MiddlewareFunc
		switch {
		case billing != nil:
			mw = append(mw, apps.EchoBilling(billing, h))
		case mode == "anchor":
			mw = append(mw, apps.EchoRateLimiter())
		}
		return serveHTTP(ctx, addr, apps.Echo(mw...))
	case "fiber":
		var mw []fiber.Handler
		switch {
		case billing != nil:
			mw = append(mw, apps.FiberBilling(billing, h))
		case mode == "anchor":
			mw = append(mw, apps.FiberLimiter())
		}
		return serveFiber(ctx, addr, apps.Fiber(mw...))
	case "nethttp":
		var mw []func(http.Handler) http.Handler
		switch {
		case billing != nil:
			mw = append(mw, apps.NetHTTPBilling(billing, h))
		case mode == "anchor":
			mw = append(mw, apps.Httprate())
		}
		return serveHTTP(ctx, addr, apps.NetHTTP(mw...))
	}
	return fmt.Errorf("unknown framework %q", framework)
}

func serveHTTP(ctx context.Context, addr string, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func serveFiber(ctx context.Context, addr string, app *fiber.App) error {
	errc := make(chan error, 1)
	go func() { errc <- app.Listen(addr) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if err := app.ShutdownWithTimeout(5 * time.Second); err != nil {
		return err
	}
	return <-errc
}
