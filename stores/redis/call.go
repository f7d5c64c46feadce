package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/frappy-go/apibilling/core"
	"github.com/frappy-go/apibilling/stores/internal/storecall"
	goredis "github.com/redis/go-redis/v9"
)

// maxArgs is the most ARGV a script call takes: 4 + 3 per window + 3.
const maxArgs = 4 + 3*core.MaxQuotas + 3

// call is the state of one script call: its arguments, built in one buffer
// and passed to go-redis as values that encode themselves, so that a call
// allocates little, and whether go-redis started writing it.
type call struct {
	buf  []byte
	ends [maxArgs]int // end offset of each argument in buf
	n    int          // arguments
	args [maxArgs]arg
	argv []any // evalsha, sha, numkeys, keys..., args...
	// written is set when go-redis encodes the command into a
	// connection's buffer: from then on, Redis may run it.
	written bool

	// For the pipeliner: what to run, by when, and the outcome, which
	// done signals.
	op       string
	sc       *script
	writes   bool
	deadline time.Time
	cmd      *goredis.Cmd
	reply    any
	err      error
	done     chan struct{}
}

// arg is one script argument, a slice of call.buf. go-redis encodes it by
// calling MarshalBinary, which also tells the call that it is being
// written.
type arg struct {
	b []byte
	c *call
}

// MarshalBinary returns the argument's bytes.
func (a *arg) MarshalBinary() ([]byte, error) {
	if a.c != nil {
		a.c.written = true
	}
	return a.b, nil
}

// String returns the argument, for go-redis's logs and hooks.
func (a *arg) String() string { return string(a.b) }

var calls = sync.Pool{New: func() any {
	c := &call{buf: make([]byte, 0, 512), argv: make([]any, 0, 5+maxArgs), done: make(chan struct{}, 1)}
	for i := range c.args {
		c.args[i].c = c
	}
	return c
}}

func getCall() *call {
	c := calls.Get().(*call)
	c.buf = c.buf[:0]
	c.n = 0
	c.written = false
	return c
}

func putCall(c *call) {
	if cap(c.buf) > 64<<10 {
		return // a large import record: let it go
	}
	for i := range c.argv {
		c.argv[i] = nil
	}
	c.argv = c.argv[:0]
	c.sc, c.cmd, c.reply, c.err = nil, nil, nil, nil
	calls.Put(c)
}

// end ends the argument written to c.buf since the previous one.
func (c *call) end() {
	c.ends[c.n] = len(c.buf)
	c.n++
}

// prepare sets the command's arguments: the script's SHA-1, keys, and the
// arguments in c.buf.
func (c *call) prepare(sc *script, keys ...string) {
	c.argv = append(c.argv[:0], "evalsha", sc.sha, numKeys[len(keys)])
	for _, k := range keys {
		c.argv = append(c.argv, k)
	}
	from := 0
	for i := range c.n {
		c.args[i].b = c.buf[from:c.ends[i]:c.ends[i]]
		from = c.ends[i]
		c.argv = append(c.argv, &c.args[i])
	}
}

var numKeys = [...]string{"0", "1", "2"}

// noRetry is a script command that go-redis must not send twice: a script
// that Redis ran but whose reply was lost would be applied again.
type noRetry struct{ *goredis.Cmd }

// NoRetry tells go-redis not to retry the command.
func (noRetry) NoRetry() bool { return true }

// eval runs the call's script and returns its reply. A script the server
// does not hold (NOSCRIPT: after a restart, a failover or SCRIPT FLUSH) is
// sent again with EVAL, which also caches it. writes says whether the
// script changes state, so that a lost reply is an unknown outcome.
func (s *Store) eval(ctx context.Context, op string, sc *script, c *call, writes bool, timeout time.Duration) (any, error) {
	ctx, cancel, err := s.begin(ctx, op, timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	s.stats.calls.Add(1)
	if s.counting != nil {
		sc = s.counting[sc]
		c.argv[1] = sc.sha
	}
	cmd := goredis.NewCmd(ctx, c.argv...)
	err = s.client.Process(ctx, noRetry{cmd})
	if err != nil && isNoScript(err) {
		s.stats.scriptLoads.Add(1)
		c.argv[0], c.argv[1] = "eval", sc.src
		c.written = false
		cmd = goredis.NewCmd(ctx, c.argv...)
		err = s.client.Process(ctx, noRetry{cmd})
	}
	if err != nil {
		if errors.Is(err, goredis.Nil) {
			return nil, nil
		}
		return nil, s.fail(op, err, writes && c.written && replyLost(err))
	}
	return s.unwrapCounting(cmd.Val()), nil
}

// run runs a Deduct, Refund or Usage script: through the pipeliner, unless
// pipelining is off.
func (s *Store) run(ctx context.Context, op string, sc *script, c *call, writes bool) (any, error) {
	if s.pipe.max > 0 {
		return s.pipelined(ctx, op, sc, c, writes, s.timeout)
	}
	return s.eval(ctx, op, sc, c, writes, s.timeout)
}

// unwrapCounting returns the reply of a counting script's call (see
// script.counting) and records its count; other replies are returned as
// they are.
func (s *Store) unwrapCounting(v any) any {
	if s.counting == nil {
		return v
	}
	r, ok := v.([]any)
	if !ok || len(r) != 2 {
		return v
	}
	n, _ := r[0].(int64)
	s.lastCalls.Store(n)
	return r[1]
}

// isNoScript reports whether Redis answered that it does not hold the
// script.
func isNoScript(err error) bool {
	var re goredis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "NOSCRIPT")
}

// replyLost reports whether err, the error of a command that go-redis began
// writing, leaves its outcome unknown: Redis may have run it. That is so
// unless Redis answered with an error (it then did not run a script that
// failed before writing, as every script here does) or the write itself
// failed (Redis never receives part of a command as a whole one).
func replyLost(err error) bool {
	var re goredis.Error
	if errors.As(err, &re) {
		return false
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "write" {
		return false
	}
	return true
}

// begin checks that the store is open and ctx not done, and returns the
// context to run the operation under: ctx bounded by timeout, unless its
// own deadline comes sooner.
func (s *Store) begin(ctx context.Context, op string, timeout time.Duration) (context.Context, context.CancelFunc, error) {
	if err := s.check(ctx, op); err != nil {
		return nil, nil, err
	}
	ctx, cancel := storecall.Bound(ctx, timeout)
	return ctx, cancel, nil
}

// errs makes the store's errors.
const errs = storecall.Store("redis")

// check reports why an operation cannot start: ctx is done or the store
// is closed.
func (s *Store) check(ctx context.Context, op string) error {
	return errs.Check(ctx, s.closed.Load(), op)
}

// fail counts a failed call and returns its error.
func (s *Store) fail(op string, err error, unknown bool) error {
	s.stats.failed.Add(1)
	if unknown {
		s.stats.outcomeUnknown.Add(1)
	}
	return errs.Err(op, err, unknown)
}

func (s *Store) badReply(op string, v any) error {
	return s.fail(op, &replyError{v}, false)
}

// replyError is a reply the store cannot read.
type replyError struct{ v any }

func (e *replyError) Error() string { return "unexpected reply " + fmtReply(e.v) }

func fmtReply(v any) string {
	s := strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(fmt.Sprint(v), "\n", " "), "\r", " "))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
