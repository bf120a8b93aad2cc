package firewall

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Guard is the userspace firewall: used where nftables is not (loopback
// mode, or without root), it closes every accepted connection whose source
// the ruleset does not allow, before a byte is read, and counts and logs
// (at most once a second) what it refused.
type Guard struct {
	rs     Ruleset
	bans   *Bans
	log    *slog.Logger
	mu     sync.Mutex
	counts map[int]*atomic.Uint64 // refused connections by port
	last   time.Time
	quiet  int
}

// NewGuard enforces rs. bans may be nil.
func NewGuard(rs Ruleset, bans *Bans, log *slog.Logger) *Guard {
	if log == nil {
		log = slog.Default()
	}
	g := &Guard{rs: rs, bans: bans, log: log, counts: map[int]*atomic.Uint64{}}
	for _, r := range rs.Rules {
		g.counts[r.Port] = new(atomic.Uint64)
	}
	return g
}

// Listener wraps ln, which serves port.
func (g *Guard) Listener(ln net.Listener, port int) net.Listener {
	if _, ok := g.counts[port]; !ok {
		g.mu.Lock()
		g.counts[port] = new(atomic.Uint64)
		g.mu.Unlock()
	}
	return &guarded{Listener: ln, g: g, port: port}
}

// Refused returns the connections refused so far, by port.
func (g *Guard) Refused() map[int]uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[int]uint64, len(g.counts))
	for p, c := range g.counts {
		out[p] = c.Load()
	}
	return out
}

func (g *Guard) refuse(port int, src netip.Addr, why string) {
	g.mu.Lock()
	c := g.counts[port]
	now := time.Now()
	logIt := now.Sub(g.last) >= time.Second
	quiet := g.quiet
	if logIt {
		g.last, g.quiet = now, 0
	} else {
		g.quiet++
	}
	g.mu.Unlock()
	c.Add(1)
	if logIt {
		g.log.Warn("firewall refused a connection", "server", g.rs.Server, "port", port, "source", src, "why", why, "refused_since_last_log", quiet)
	}
}

type guarded struct {
	net.Listener
	g    *Guard
	port int
}

func (l *guarded) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			c.Close()
			continue
		}
		src := ap.Addr().Unmap()
		if l.g.bans != nil && l.g.bans.Banned(src) {
			l.g.refuse(l.port, src, "banned")
			abort(c)
			continue
		}
		if !l.g.rs.Allows(src, l.port) {
			l.g.refuse(l.port, src, "no flow allows this source")
			abort(c)
			continue
		}
		return c, nil
	}
}

// abort closes c with a reset rather than a FIN, so the peer sees at once
// that it was refused.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
