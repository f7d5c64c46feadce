// Package faultproxy is a TCP proxy on loopback between a store's client
// and its server, for tests that make the server slow, silent, refusing,
// deaf to its replies, down or restarting without touching the server
// itself.
package faultproxy

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards connections to a target address, as its mode says.
type Proxy struct {
	addr    string
	target  string
	delay   time.Duration
	mode    atomic.Int32
	running atomic.Int64 // the proxy's own goroutines
	writes  atomic.Int64 // reads from clients passed on to the target
	wg      sync.WaitGroup

	mu     sync.Mutex
	ln     net.Listener // nil while down
	conns  map[net.Conn]struct{}
	closed bool
}

// Modes of a proxy.
const (
	Pass      int32 = iota
	Slow            // replies are held for the proxy's delay
	BlackHole       // everything is swallowed; connections stay open
	Refuse          // new connections are closed at once
	CutReply        // requests go through; a reply closes both ends instead
	DropReply       // requests go through; replies are swallowed, connections stay open
)

// Start starts a proxy to target on a free loopback port, with the delay
// of Slow mode; it stops when the test ends.
func Start(t testing.TB, target string, delay time.Duration) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{addr: ln.Addr().String(), target: target, delay: delay, ln: ln, conns: map[net.Conn]struct{}{}}
	p.spawn(func() { p.accept(ln) })
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.addr }

// SetMode sets the mode for the data that passes from now on.
func (p *Proxy) SetMode(m int32) { p.mode.Store(m) }

// Writes returns how many times the proxy has passed data from a client to
// the target: one per round trip of a client that waits for each reply.
func (p *Proxy) Writes() int64 { return p.writes.Load() }

// Goroutines returns how many goroutines the proxy runs.
func (p *Proxy) Goroutines() int64 { return p.running.Load() }

func (p *Proxy) spawn(f func()) {
	p.wg.Add(1)
	p.running.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.running.Add(-1)
		f()
	}()
}

func (p *Proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		switch p.mode.Load() {
		case Refuse:
			c.Close()
			continue
		case BlackHole:
			// A server that accepts and never answers: nothing is dialed,
			// so the real server sees none of these connections.
			p.mu.Lock()
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			p.spawn(func() { p.pipe(discard{}, c, false) })
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.spawn(func() { p.pipe(s, c, false) })
		p.spawn(func() { p.pipe(c, s, true) })
	}
}

// pipe copies src to dst as the mode says, until either end closes; then
// it closes both.
func (p *Proxy) pipe(dst, src net.Conn, reply bool) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
		src.Close()
		dst.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			switch p.mode.Load() {
			case BlackHole:
				continue
			case Slow:
				if reply {
					time.Sleep(p.delay)
				}
			case CutReply:
				if reply {
					return
				}
			case DropReply:
				if reply {
					continue
				}
			}
			if !reply {
				p.writes.Add(1)
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// discard is the far end of a black-holed connection.
type discard struct{ net.Conn }

func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) Close() error                { return nil }

// DropAll closes every connection, as a failover or restart does.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Down closes the listener and every connection: the address refuses
// connections, as a stopped server's does.
func (p *Proxy) Down() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	p.DropAll()
}

// Up listens again on the same address after Down, as a restarted server
// does. It retries for a while if the port is not free yet.
func (p *Proxy) Up(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("proxy: listening again on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.spawn(func() { p.accept(ln) })
}

// Close stops the proxy and waits for its goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Down()
	p.wg.Wait()
}
