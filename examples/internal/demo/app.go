package demo

import (
	"errors"
	"fmt"

	"github.com/frappy-go/apibilling/clientsfile"
	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/bolt"
)

// App is an example application's billing: its clients and the store that
// keeps their usage.
type App struct {
	// Config is the configuration the application was opened with.
	Config Config
	// Billing charges the clients' quotas.
	Billing *core.Billing
	// Clients are the clients of the clients file, with their keys.
	Clients *clientsfile.File

	store core.Store
	where string // the store, for the start-up line
}

// Open loads the clients, opens the store (the bbolt file, or Redis with
// -redis) and applies the clients' quotas. A bbolt file that another process
// holds is refused within [bolt.DefaultLockTimeout] with an error that says
// so. Close the App to flush and close the store.
func Open(cfg Config) (*App, error) {
	clients, err := LoadClients(cfg.Clients)
	if err != nil {
		return nil, err
	}
	app := &App{Config: cfg, Clients: clients}
	if cfg.Redis != "" {
		if openRedis == nil {
			return nil, errors.New("-redis: this build has no Redis store")
		}
		app.store, err = openRedis(cfg.Redis)
		app.where = "redis " + cfg.Redis
	} else {
		app.store, err = openBolt(cfg.DB)
		app.where = cfg.DB
	}
	if err != nil {
		return nil, err
	}
	app.Billing = core.New(app.store)
	if err := clients.Apply(app.Billing); err != nil {
		app.store.Close()
		return nil, err
	}
	return app, nil
}

// openRedis opens a store in the Redis server at an address; it is nil in
// a build without the Redis store.
var openRedis func(addr string) (core.Store, error)

func openBolt(path string) (core.Store, error) {
	s, err := bolt.Open(path, nil)
	if errors.Is(err, bolt.ErrLocked) {
		return nil, fmt.Errorf("%w; stop it, or give this one another -db", err)
	}
	return s, err
}

// ClientForKey returns the client that an API key identifies.
func (a *App) ClientForKey(key string) (client string, ok bool) {
	return a.Clients.ClientForKey(key)
}

// Close flushes and closes the store.
func (a *App) Close() error { return a.store.Close() }
