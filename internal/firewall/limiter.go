package firewall

import (
	"context"
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

// Limiter enforces Limits per client address, banning clients that exceed
// them through a Banner.
type Limiter struct {
	limits Limits
	ban    Banner
	log    *slog.Logger

	mu      sync.Mutex
	clients map[netip.Addr]*client
	over    atomic.Uint64
}

type client struct {
	rate  *rate.Limiter
	conns int
	seen  time.Time
}

// NewLimiter returns a limiter that bans through ban.
func NewLimiter(l Limits, ban Banner, log *slog.Logger) *Limiter {
	if log == nil {
		log = slog.Default()
	}
	if l.Burst <= 0 {
		l.Burst = max(1, int(l.RequestsPerSecond))
	}
	if l.BanFor <= 0 {
		l.BanFor = time.Minute
	}
	return &Limiter{limits: l, ban: ban, log: log, clients: map[netip.Addr]*client{}}
}

// Exceeded returns how many times a client went over a limit.
func (l *Limiter) Exceeded() uint64 { return l.over.Load() }

func (l *Limiter) get(a netip.Addr) *client {
	c, ok := l.clients[a]
	if !ok {
		c = &client{}
		if l.limits.RequestsPerSecond > 0 {
			c.rate = rate.NewLimiter(rate.Limit(l.limits.RequestsPerSecond), l.limits.Burst)
		}
		l.clients[a] = c
	}
	c.seen = time.Now()
	return c
}

func (l *Limiter) exceed(a netip.Addr, what string) {
	l.over.Add(1)
	l.log.Warn("client over the limit", "client", a, "limit", what)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.ban.Ban(ctx, a, l.limits.BanFor); err != nil {
		l.log.Error("ban failed", "client", a, "err", err)
	}
}

// Handler answers 429 and bans a client that exceeds the request rate.
func (l *Limiter) Handler(next http.Handler) http.Handler {
	if l.limits.RequestsPerSecond <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err == nil {
			a := ap.Addr().Unmap()
			l.mu.Lock()
			ok := l.get(a).rate.Allow()
			l.mu.Unlock()
			if !ok {
				l.exceed(a, "requests per second")
				w.Header().Set("Retry-After", "60")
				http.Error(w, "too many requests", http.StatusTooManyRequests)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Listener refuses, and bans, a client that opens more connections than
// allowed at once.
func (l *Limiter) Listener(ln net.Listener) net.Listener {
	if l.limits.ConnectionsPerClient <= 0 {
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
