package firewall

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound what one client may ask of the lb. Zero means no limit.
type Limits struct {
	RequestsPerSecond    float64
	Burst                int
	ConnectionsPerClient int
	// BanFor is how long a client that exceeds a limit is banned.
	BanFor time.Duration
}

// Limiter enforces Limits per client: an IPv4 address, or an IPv6 /64
// (clientKey). A client over a limit is
// banned; a banned client is refused at accept and, on a connection it
// already holds, answered 429 and disconnected.
type Limiter struct {
	limits Limits
	bans   *Bans
	log    *slog.Logger

	mu      sync.Mutex
	clients map[netip.Prefix]*client // by clientKey
	over    atomic.Uint64
}

type client struct {
	rate  *rate.Limiter
	conns int
	seen  time.Time
}

// NewLimiter returns a limiter that bans through bans.
func NewLimiter(l Limits, bans *Bans, log *slog.Logger) *Limiter {
	if log == nil {
		log = slog.Default()
	}
	if l.Burst <= 0 {
		l.Burst = max(1, int(l.RequestsPerSecond))
	}
	if l.BanFor <= 0 {
		l.BanFor = time.Minute
	}
	return &Limiter{limits: l, bans: bans, log: log, clients: map[netip.Prefix]*client{}}
}

// Exceeded returns how many times a client went over a limit.
func (l *Limiter) Exceeded() uint64 { return l.over.Load() }

func (l *Limiter) get(a netip.Addr) *client {
	k := clientKey(a)
	c, ok := l.clients[k]
	if !ok {
		c = &client{}
		if l.limits.RequestsPerSecond > 0 {
			c.rate = rate.NewLimiter(rate.Limit(l.limits.RequestsPerSecond), l.limits.Burst)
		}
		l.clients[k] = c
	}
	c.seen = time.Now()
	return c
}

// exceed bans a client that went over a limit, once: requests that race
// in before the ban holds neither log nor ban again.
func (l *Limiter) exceed(a netip.Addr, what string) {
	l.over.Add(1)
	if l.bans.Banned(a) {
		return
	}
	l.bans.Ban(context.Background(), a, l.limits.BanFor, what)
}

func (l *Limiter) off() bool {
	return l.limits.RequestsPerSecond <= 0 && l.limits.ConnectionsPerClient <= 0
}

// Handler answers 429 and bans a client that exceeds the request rate.
func (l *Limiter) Handler(next http.Handler) http.Handler {
	if l.off() {
		return next
	}
	refuse := func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", fmt.Sprint(int(l.limits.BanFor.Seconds())))
		w.Header().Set("Connection", "close") // HTTP/1.1: end the kept-alive connection
		http.Error(w, "too many requests", http.StatusTooManyRequests)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		a := ap.Addr().Unmap()
		if l.bans.Banned(a) {
			refuse(w)
			return
		}
		if l.limits.RequestsPerSecond > 0 {
			l.mu.Lock()
			ok := l.get(a).rate.Allow()
			l.mu.Unlock()
			if !ok {
				l.exceed(a, "requests per second")
				refuse(w)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Listener refuses, and bans, a client that opens more connections than
// allowed at once.
func (l *Limiter) Listener(ln net.Listener) net.Listener {
	if l.off() {
		return ln
	}
	return &limitedListener{Listener: ln, l: l}
}

// Run forgets idle clients until ctx ends, bounding the limiter's memory.
func (l *Limiter) Run(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		l.mu.Lock()
		for a, c := range l.clients {
			if c.conns == 0 && time.Since(c.seen) > time.Minute {
				delete(l.clients, a)
			}
		}
		l.mu.Unlock()
	}
}

type limitedListener struct {
	net.Listener
	l *Limiter
}

func (ll *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			return c, nil
		}
		a := ap.Addr().Unmap()
		if ll.l.bans.Banned(a) {
			abort(c)
			continue
		}
		if ll.l.limits.ConnectionsPerClient <= 0 {
			return c, nil
		}
		ll.l.mu.Lock()
		cl := ll.l.get(a)
		over := cl.conns >= ll.l.limits.ConnectionsPerClient
		if !over {
			cl.conns++
		}
		ll.l.mu.Unlock()
		if over {
			abort(c)
			ll.l.exceed(a, "connections per client")
			continue
		}
		return &countedConn{Conn: c, release: func() {
			ll.l.mu.Lock()
			cl.conns--
			ll.l.mu.Unlock()
		}}, nil
	}
}

type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
