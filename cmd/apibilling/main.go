package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	goredis "github.com/redis/go-redis/v9"
)

// quietLogger drops the Redis client's own log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // a damaged file, a mismatch, a store that failed
	exitUsage   = 2 // a command line that cannot be run
)

// command is one subcommand.
type command struct {
	name  string
	args  string // the synopsis after the name
	short string // one line for the list of commands
	long  string // the help text after the synopsis
	run   func(ctx context.Context, e *env, args []string) error
}

// commands lists the subcommands in the order the help shows them.
var commands []*command

func init() {
	commands = []*command{cmdUsage, cmdClients, cmdCheck, cmdBackup, cmdExport, cmdImport, cmdMigrate}
}

// env is what a command reads and writes.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stdoutTTY and stderrTTY report whether they are terminals.
	stdoutTTY, stderrTTY bool
	// secrets are the passwords of the store URLs given, which are never
	// printed.
	secrets []string
}

func main() {
	// The Redis client logs failed dials itself; the command reports
	// errors once, in its own words.
	goredis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one stops the process at once.
		<-ctx.Done()
		stop()
	}()
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		stdoutTTY: isTerminal(os.Stdout), stderrTTY: isTerminal(os.Stderr)}
	os.Exit(run(ctx, e, os.Args[1:]))
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		printOverview(e.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		return help(e, args[1:])
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(e.stderr, "apibilling: unknown command %q\nRun 'apibilling help' for the list of commands.\n", name)
		return exitUsage
	}
	err := c.run(ctx, e, args[1:])
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		printHelp(e.stdout, c)
		return exitOK
	}
	msg := scrub(err.Error(), e.secrets)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "apibilling %s: %s\nRun 'apibilling help %s' for usage.\n", c.name, msg, c.name)
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "apibilling %s: %s\n", c.name, msg)
	return exitFailure
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// help prints the overview, or one command's help.
func help(e *env, args []string) int {
	switch len(args) {
	case 0:
		printOverview(e.stdout)
		return exitOK
	case 1:
		if c := lookup(args[0]); c != nil {
			printHelp(e.stdout, c)
			return exitOK
		}
		fmt.Fprintf(e.stderr, "apibilling help: unknown command %q\nRun 'apibilling help' for the list of commands.\n", args[0])
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "usage: apibilling help [command]\n")
	return exitUsage
}

func printOverview(w io.Writer) {
	fmt.Fprint(w, `apibilling operates the usage store of an API billed with apibilling:
invoicing exports, quota status, checks, backups and migrations.

Usage:

	apibilling <command> [flags]

The commands are:

`)
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-10s %s\n", c.name, c.short)
	}
	fmt.Fprint(w, `
Use "apibilling help <command>" or "apibilling <command> -h" for more
information about a command.

Stores are named by URL: a bbolt file path (or bolt:PATH), redis://HOST:PORT/DB,
postgres://..., mysql://DSN, mongodb://... (see "apibilling help usage").
Passwords in URLs are never printed. Exit status: 0 done, 1 failed (a damaged
file, a mismatch, a store error), 2 a command line that cannot be run.
`)
}

func printHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: apibilling %s %s\n\n%s", c.name, c.args, strings.TrimLeft(c.long, "\n"))
}

// usageError is a command line that cannot be run (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usage error.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// parseFlags parses args with fs, allowing flags after positional
// arguments (apibilling check FILE -format json), and returns the
// positional arguments. -h returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// noArgs parses a command that takes flags only.
func noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q (this command takes flags only)", pos[0])
	}
	return nil
}

// oneOf checks a flag's value against its choices.
func oneOf(flagName, v string, choices ...string) error {
	for _, c := range choices {
		if v == c {
			return nil
		}
	}
	return usagef("-%s %q: want %s", flagName, v, strings.Join(choices, ", "))
}
