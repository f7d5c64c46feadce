package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "time/tzdata" // clients files may name IANA zones on any machine
)

// Timeouts of the example servers.
const (
	// ReadHeaderTimeout bounds how long a client may take to send a
	// request's headers.
	ReadHeaderTimeout = 10 * time.Second
	// ShutdownTimeout bounds how long a shutdown waits for the requests in
	// flight before closing their connections.
	ShutdownTimeout = 10 * time.Second
)

// Server is an HTTP server of one framework: a [*http.Server] is one; a
// Fiber app needs a small wrapper.
type Server interface {
	// Serve accepts connections on ln until Shutdown; it returns nil or
	// [http.ErrServerClosed] after Shutdown.
	Serve(ln net.Listener) error
	// Shutdown stops accepting connections and waits for the requests in
	// flight, or for ctx to end.
	Shutdown(ctx context.Context) error
}

// Build returns the server of an application over its billing.
type Build func(app *App) (Server, error)

// Main runs the application name with the program's arguments until
// SIGINT or SIGTERM, and exits: 0 after a clean shutdown, 1 after an error,
// 2 for bad flags. It prints one line to stdout once it listens, and errors
// to stderr.
func Main(name string, build Build) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, name, os.Args[1:], os.Stdout, os.Stderr, func() {
		stop() // a second signal ends the process at once
	}, build)
	stop()
	os.Exit(code)
}

// Run is [Main] without the process: it serves until ctx ends, then shuts
// down, calling stopping first, and returns the exit code.
//
// In order: parse the flags, load the clients, open the store, apply the
// quotas, build the server, listen, print "NAME listening on
// http://ADDR ...", serve; when ctx ends: stop accepting, finish the
// requests in flight (at most [ShutdownTimeout]), then flush and close the
// store.
func Run(ctx context.Context, name string, args []string, stdout, stderr io.Writer, stopping func(), build Build) int {
	cfg, err := ParseFlags(name, args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	app, err := Open(cfg)
	if err != nil {
		return fail(err)
	}
	srv, err := build(app)
	if err != nil {
		app.Close()
		return fail(err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		app.Close()
		return fail(err)
	}
	clients := "built-in demo clients"
	if cfg.Clients != "" {
		clients = cfg.Clients
	}
	fmt.Fprintf(stdout, "%s listening on http://%s (usage in %s; %s)\n", name, ln.Addr(), app.where, clients)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
		if stopping != nil {
			stopping()
		}
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		if err := srv.Shutdown(sctx); err != nil {
			fmt.Fprintf(stderr, "%s: shutdown: %v\n", name, err)
		}
		cancel()
		serveErr = <-served
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	if err := app.Close(); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("closing the store: %w", err)
	}
	if serveErr != nil {
		return fail(serveErr)
	}
	return 0
}
