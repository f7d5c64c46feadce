// Package kit wires apibilling into a server in a few lines: the store a
// URL names, the clients file, Prometheus metrics, quota alerts with an
// optional signed webhook, and the usage API and dashboard. It is what the
// four example apps share, kept in one documented package that your
// programs may use too; each piece is also usable on its own (storeurl,
// clientsfile, metrics/prometheus, webhook, usageapi), for programs that
// want another arrangement. It is a module of its own, because it pulls
// every store's driver and the Prometheus client.
//
//	cfg := kit.Flags(flag.CommandLine) // -db, -clients, -redis, -postgres, -mysql, -mongo, -admin-token, -webhook
//	flag.Parse()
//	k, err := kit.Open(context.Background(), cfg)
//	if err != nil { ... }
//	defer k.Close() // after the server has stopped
//	// Bill the API with k.Billing and k.Clients.ClientForKey, report to
//	// k.Metrics, skip kit.Side paths, and serve k.UsageAPI at /billing
//	// and k.MetricsHandler at /metrics.
package kit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/frappy-go/apibilling/clientsfile"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/httpbilling"
	prombilling "github.com/frappy-go/apibilling/metrics/prometheus"
	"github.com/frappy-go/apibilling/stores/bolt"
	"github.com/frappy-go/apibilling/storeurl"
	"github.com/frappy-go/apibilling/usageapi"
	"github.com/frappy-go/apibilling/webhook"
)

// Config says what [Open] wires. The zero value is the demo: the bbolt
// file apibilling.db, the built-in demo clients, no operator API, no
// webhook.
type Config struct {
	// DB is the bbolt file that keeps usage when no shared store is named.
	// Default: apibilling.db.
	DB string
	// Redis, Postgres, MySQL and Mongo name a shared store instead (at most
	// one): host:port, a PostgreSQL URL, a MySQL DSN, a MongoDB URI.
	Redis, Postgres, MySQL, Mongo string
	// Clients is the clients file. Default: the built-in demo clients.
	Clients string
	// AdminToken enables the operator side of the usage API. Default: off.
	AdminToken string
	// WebhookURL, when set, receives quota alerts signed with
	// WebhookSecret (required with it).
	WebhookURL, WebhookSecret string
	// Thresholds are the alerts, in percent of each quota. Default: 80 and
	// 100.
	Thresholds []int
}

// Flags registers the flags of cfg on fs and returns cfg, read once fs is
// parsed: -db, -clients, -redis, -postgres, -mysql, -mongo, -admin-token
// (default $APIBILLING_ADMIN_TOKEN) and -webhook (its secret in
// $APIBILLING_WEBHOOK_SECRET).
func Flags(fs *flag.FlagSet) *Config {
	cfg := &Config{WebhookSecret: os.Getenv("APIBILLING_WEBHOOK_SECRET")}
	fs.StringVar(&cfg.DB, "db", "apibilling.db", "bbolt file that keeps usage: the default store")
	fs.StringVar(&cfg.Clients, "clients", "", "JSON file of clients, keys and quotas (default: the built-in demo clients)")
	fs.StringVar(&cfg.Redis, "redis", "", "keep usage in the Redis server at host:port instead of the bbolt file")
	fs.StringVar(&cfg.Postgres, "postgres", "", "keep usage in PostgreSQL at this URL, such as postgres://user@127.0.0.1:5432/db")
	fs.StringVar(&cfg.MySQL, "mysql", "", "keep usage in MySQL or MariaDB at this DSN, such as user@tcp(127.0.0.1:3306)/db")
	fs.StringVar(&cfg.Mongo, "mongo", "", "keep usage in MongoDB at this URI, such as mongodb://127.0.0.1:27017")
	fs.StringVar(&cfg.AdminToken, "admin-token", os.Getenv("APIBILLING_ADMIN_TOKEN"),
		"bearer token of the operator side of the usage API and dashboard under /billing/ (default $APIBILLING_ADMIN_TOKEN; empty: off)")
	fs.StringVar(&cfg.WebhookURL, "webhook", "", "POST quota alerts (80% and 100% of each quota) to this URL, signed with $APIBILLING_WEBHOOK_SECRET")
	return cfg
}

// Kit is a wired apibilling: use its fields to bill an API.
type Kit struct {
	// Billing charges the requests, with the clients' quotas set.
	Billing *core.Billing
	// Clients is the clients file; Clients.ClientForKey maps API keys.
	Clients *clientsfile.File
	// Store keeps the usage; Where names it for people (no password).
	Store core.Store
	Where string
	// Metrics is the observer to give the billing middleware (its observer
	// option), for apibilling_requests_total.
	Metrics *prombilling.Collector
	// UsageAPI is the usage API and dashboard, to mount at /billing and
	// /billing/ (the prefix is stripped).
	UsageAPI http.Handler
	// MetricsHandler serves the metrics, at /metrics.
	MetricsHandler http.Handler

	closeAlerts func()
}

// Open opens the store, reads the clients file, and wires the metrics,
// the alerts and the usage API. Close the Kit once the server has stopped.
func Open(ctx context.Context, cfg *Config) (*Kit, error) {
	clients, err := clientsfile.LoadOrDemo(cfg.Clients)
	if err != nil {
		return nil, err
	}
	url, where, err := cfg.storeURL()
	if err != nil {
		return nil, err
	}
	k := &Kit{Clients: clients, Where: where, Metrics: prombilling.New(nil)}
	registry := prometheus.NewRegistry()
	registry.MustRegister(k.Metrics)
	k.MetricsHandler = promhttp.HandlerFor(registry, promhttp.HandlerOpts{})

	k.Store, err = storeurl.Open(ctx, url, &storeurl.Options{
		Bolt: &bolt.Options{OnCommit: k.Metrics.Commit}, // durable: each charge is on disk before its handler runs
	})
	if errors.Is(err, bolt.ErrLocked) {
		return nil, fmt.Errorf("%w; stop it, or give this one another -db", err)
	}
	if err != nil {
		return nil, err
	}
	if count, ok := storeurl.UnknownOutcomes(k.Store); ok {
		k.Metrics.CountOutcomeUnknown(count)
	}
	alert, err := k.alerts(cfg)
	if err != nil {
		return nil, errors.Join(err, k.Store.Close())
	}
	k.Billing = core.New(k.Store, core.WithObserver(k.Metrics), core.WithAlerts(alert, cfg.thresholds()...))
	if err := clients.Apply(k.Billing); err != nil {
		return nil, errors.Join(err, k.Close())
	}
	usage := usageapi.Config{
		Billing:     k.Billing,
		Identity:    k.APIKey,
		AdminToken:  cfg.AdminToken,
		ParseQuotas: clientsfile.ParseQuotas,
	}
	if backup, ok := storeurl.Backup(k.Store); ok {
		usage.Backup = backup // GET /billing/api/backup: a consistent copy of the file
	}
	k.UsageAPI = http.StripPrefix("/billing", usageapi.New(usage))
	return k, nil
}

// Close sends the alerts still queued (for a few seconds at most), then
// flushes and closes the store.
func (k *Kit) Close() error {
	if k.closeAlerts != nil {
		k.closeAlerts()
	}
	if err := k.Store.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	return nil
}

// APIKey is the usage API's identity: the client of the API key in
// X-API-Key or a bearer token, as for the billed routes.
func (k *Kit) APIKey(r *http.Request) (string, error) {
	key := r.Header.Get("X-API-Key")
	if key == "" {
		key, _ = httpbilling.BearerToken(r.Header.Get("Authorization"))
	}
	if client, ok := k.Clients.ClientForKey(key); ok && key != "" {
		return client, nil
	}
	return "", errors.New("no valid API key")
}

// Side reports whether path is one of the routes Kit serves beside the
// API (/billing, /billing/..., /metrics): the billing middleware must skip
// them.
func Side(path string) bool {
	return path == "/metrics" || path == "/billing" || strings.HasPrefix(path, "/billing/")
}

// storeURL returns the URL of the store the config chooses (the bbolt
// file unless one shared store is named) and how to name it without a
// password.
func (cfg *Config) storeURL() (url, where string, err error) {
	url, where = cfg.DB, cfg.DB
	if url == "" {
		url, where = "apibilling.db", "apibilling.db"
	}
	n := 0
	for _, s := range []struct{ set, url, where string }{
		{cfg.Redis, "redis://" + cfg.Redis, "redis " + cfg.Redis},
		{cfg.Postgres, cfg.Postgres, "postgres"},
		{cfg.MySQL, "mysql://" + cfg.MySQL, "mysql"},
		{cfg.Mongo, cfg.Mongo, "mongodb"},
	} {
		if s.set != "" {
			url, where = s.url, s.where
			n++
		}
	}
	if n > 1 {
		return "", "", errors.New("name at most one shared store (-redis, -postgres, -mysql, -mongo)")
	}
	return url, where, nil
}

// thresholds are the alerts: each percent of Thresholds (80 and 100 by
// default) of every period's quota.
func (cfg *Config) thresholds() []core.Threshold {
	pcts := cfg.Thresholds
	if pcts == nil {
		pcts = []int{80, 100}
	}
	var ts []core.Threshold
	for p := core.Second; p <= core.Year; p++ {
		for _, pct := range pcts {
			ts = append(ts, core.Threshold{Period: p, Percent: pct})
		}
	}
	return ts
}

// alerts returns what to do with each quota alert: count it, and post it
// to the webhook, if there is one, from a queue that never blocks a
// request.
func (k *Kit) alerts(cfg *Config) (func(core.Alert), error) {
	if cfg.WebhookURL == "" {
		return k.Metrics.Alert, nil
	}
	if cfg.WebhookSecret == "" {
		return nil, errors.New("a webhook needs a signing secret ($APIBILLING_WEBHOOK_SECRET)")
	}
	sender := webhook.New(cfg.WebhookURL, []byte(cfg.WebhookSecret), nil)
	k.closeAlerts = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sender.Close(ctx) // alerts not sent by then are dropped, and counted
	}
	return func(a core.Alert) {
		k.Metrics.Alert(a)
		sender.Notify(a)
	}, nil
}
