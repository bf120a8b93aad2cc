package serve

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// handshakeWatch tells an Observer the outcome of every TLS handshake made
// with the config it returns. A success is seen in VerifyConnection, which
// runs on every handshake, resumptions included. A failure has no callback
// of its own: a connection that sent a ClientHello and ends (closes or is
// hijacked) without a complete handshake failed. A connection that closes
// before saying anything is a port probe, not a handshake, and is not
// counted.
type handshakeWatch struct {
	obs    Observer
	hellos sync.Map // the raw net.Conn of each handshake in progress
}

// watchHandshakes returns a copy of cfg that reports to obs, and the watch
// whose ended method must see every connection made with it end.
func watchHandshakes(cfg *tls.Config, obs Observer) (*tls.Config, *handshakeWatch) {
	w := &handshakeWatch{obs: obs}
	cfg = cfg.Clone()
	verifying(cfg, obs)
	next := cfg.GetConfigForClient
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		w.hellos.Store(hello.Conn, struct{}{})
		if next == nil {
			return nil, nil
		}
		c, err := next(hello)
		if c != nil {
			c = c.Clone()
			verifying(c, obs)
		}
		return c, err
	}
	return cfg, w
}

// ended records a failed handshake if c began one and did not finish it.
func (w *handshakeWatch) ended(c net.Conn) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return
	}
	if _, began := w.hellos.LoadAndDelete(tc.NetConn()); began && !tc.ConnectionState().HandshakeComplete {
		w.obs.Handshake(false)
	}
}

// observeHandshakes makes srv report its handshakes to obs, and returns the
// watch for connections srv does not serve itself.
func observeHandshakes(srv *http.Server, obs Observer) *handshakeWatch {
	cfg, w := watchHandshakes(srv.TLSConfig, obs)
	srv.TLSConfig = cfg
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		if state == http.StateClosed || state == http.StateHijacked {
			w.ended(c)
		}
		if prev != nil {
			prev(c, state)
		}
	}
	return w
}

// verifying makes cfg report each handshake that passes its checks.
func verifying(cfg *tls.Config, obs Observer) {
	next := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if next != nil {
			if err := next(cs); err != nil {
				return err
			}
		}
		obs.Handshake(true)
		return nil
	}
}
