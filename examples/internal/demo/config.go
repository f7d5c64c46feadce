package demo

import (
	"flag"
	"fmt"
	"io"
)

// Defaults of the flags.
const (
	DefaultAddr = "127.0.0.1:8080"
	DefaultDB   = "apibilling.db"
)

// Config is what the flags of an example application set.
type Config struct {
	// Addr is the address to listen on (-addr).
	Addr string
	// DB is the path of the bbolt file that keeps usage (-db).
	DB string
	// Clients is the path of a clients file (-clients), or empty for the
	// built-in demo clients.
	Clients string
	// Redis is the address of a Redis server to keep usage in instead of
	// the bbolt file (-redis), or empty.
	Redis string
}

// ParseFlags parses the command-line arguments of the application name
// (without the program name). Usage and flag errors are written to output.
// It returns [flag.ErrHelp] for -h.
func ParseFlags(name string, args []string, output io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.Addr, "addr", DefaultAddr, "address to listen on")
	fs.StringVar(&c.DB, "db", DefaultDB, "bbolt file that keeps usage")
	fs.StringVar(&c.Clients, "clients", "", "JSON file of clients, keys and quotas (default: the built-in demo clients)")
	fs.StringVar(&c.Redis, "redis", "", "keep usage in the Redis server at this address (host:port) instead of the bbolt file")
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: %s [flags]\n\nThe apibilling demo API: routes under /api billed in credits.\n\nFlags:\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintf(output, "%s: %v\n", name, err)
		fs.Usage()
		return c, err
	}
	return c, nil
}
