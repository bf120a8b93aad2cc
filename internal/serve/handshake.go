package serve

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// observeHandshakes tells obs the outcome of every TLS handshake srv does.
// A success is seen in VerifyConnection, which runs on every handshake,
// resumptions included. A failure has no callback of its own: a connection
// that sent a ClientHello and closes or is hijacked without a complete
// handshake failed. A connection that closes before saying anything is a
// port probe, not a handshake, and is not counted.
func observeHandshakes(srv *http.Server, obs Observer) {
	var hellos sync.Map // the raw net.Conn of each handshake in progress
	cfg := srv.TLSConfig.Clone()
	verifying(cfg, obs)
	next := cfg.GetConfigForClient
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		hellos.Store(hello.Conn, struct{}{})
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
	srv.TLSConfig = cfg
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		if state == http.StateClosed || state == http.StateHijacked {
			if tc, ok := c.(*tls.Conn); ok {
				if _, began := hellos.LoadAndDelete(tc.NetConn()); began && !tc.ConnectionState().HandshakeComplete {
					obs.Handshake(false)
				}
			}
		}
		if prev != nil {
			prev(c, state)
		}
	}
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
