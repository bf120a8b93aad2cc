package dbrouter

import (
	"context"
	"crypto/tls"
	"database/sql"
	"io"
	"log"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// backend is one db server and everything the router knows about it. Its
// check loop is the only writer of usable; the proxy may only mark it down.
type backend struct {
	Backend
	log *slog.Logger
	db  *sql.DB // the monitor's connection, for checks

	mu      sync.Mutex
	usable  bool
	state   string
	lastErr string
	checked time.Time
	passes  int // consecutive passing checks
	fails   int // consecutive failing checks
	conns   map[net.Conn]struct{}
	total   int64 // connections forwarded
}

func newBackend(b Backend, cfg Config, log *slog.Logger) (*backend, error) {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd = cfg.User, cfg.Password
	mc.Net, mc.Addr = "tcp", b.Addr
	mc.Timeout, mc.ReadTimeout, mc.WriteTimeout = cfg.Timeout, cfg.Timeout, cfg.Timeout
	mc.TLS = serverTLS(cfg.TLS, b.Addr)
	mc.Logger = quietLogger
	dialer := &net.Dialer{LocalAddr: cfg.LocalAddr, Timeout: cfg.Timeout}
	mc.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, addr)
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(time.Minute)
	return &backend{Backend: b, log: log, db: db, state: "not checked yet", conns: map[net.Conn]struct{}{}}, nil
}

// quietLogger keeps the driver from printing a dead server's broken
// connection: the check reports it.
var quietLogger = log.New(io.Discard, "", 0)

// serverTLS returns the checks' TLS config for the backend at addr, which
// verifies its certificate by address.
func serverTLS(base *tls.Config, addr string) *tls.Config {
	c := base.Clone()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		c.ServerName = host
	}
	return c
}

// observe applies one check's result. A backend goes down at the first
// failure, since a check only fails when the server cannot serve, and comes
// back after rise passes in a row. It returns the connections to close:
// those of a backend that went down, unless the check says they still work.
func (b *backend) observe(h Health, err error, rise int) (closed []net.Conn, changed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checked = time.Now()
	if err != nil {
		b.lastErr, b.state = err.Error(), "unreachable"
	} else {
		b.lastErr, b.state = "", h.State
	}
	ok := err == nil && h.Usable
	if ok {
		b.passes++
		b.fails = 0
		if !b.usable && b.passes >= rise {
			b.usable = true
			return nil, true
		}
		return nil, false
	}
	b.fails++
	b.passes = 0
	drain := err != nil || !h.Keep
	if b.usable {
		b.usable = false
		if drain {
			return b.takeConns(), true
		}
		return nil, true
	}
	if drain && len(b.conns) > 0 {
		return b.takeConns(), false
	}
	return nil, false
}

// markDown takes the backend out at once after a failed connection.
func (b *backend) markDown(err error) (closed []net.Conn, changed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.passes = 0
	b.lastErr = err.Error()
	if !b.usable {
		return nil, false
	}
	b.usable = false
	return b.takeConns(), true
}

// takeConns empties the backend's connection set, with b.mu held; the
// caller closes them
// so that their clients reconnect through a healthy backend.
func (b *backend) takeConns() []net.Conn {
	out := make([]net.Conn, 0, len(b.conns))
	for c := range b.conns {
		out = append(out, c)
	}
	clear(b.conns)
	return out
}

func (b *backend) isUsable() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.usable
}

// track adds a forwarded connection; it reports false when the backend went
// down meanwhile and the connection must not be used.
func (b *backend) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.usable {
		return false
	}
	b.conns[c] = struct{}{}
	b.total++
	return true
}

func (b *backend) untrack(c net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.conns, c)
}

// BackendStatus is one backend as the router sees it.
type BackendStatus struct {
	Name        string    `json:"name"`
	Addr        string    `json:"addr"`
	Usable      bool      `json:"usable"`
	State       string    `json:"state"`
	Error       string    `json:"error,omitempty"`
	Connections int       `json:"connections"`
	Forwarded   int64     `json:"forwarded"`
	Checked     time.Time `json:"checked"`
}

func (b *backend) status() BackendStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BackendStatus{Name: b.Name, Addr: b.Addr, Usable: b.usable, State: b.state, Error: b.lastErr,
		Connections: len(b.conns), Forwarded: b.total, Checked: b.checked}
}
