package serve

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// handshakeWatch tells an Observer the outcome of every TLS handshake made
// with the config it returns. A handshake begins when a ClientHello
// arrives; its outcome is settled the first time the connection is seen
// after it: serving, idle or closed. A connection that closes before
// saying anything is a port probe, not a handshake, and is not counted.
//
// The outcome is not taken from VerifyConnection: under TLS 1.3 the server
// runs it before the client's Finished, so a client that rejects the
// certificate would count as a success and a failure.
type handshakeWatch struct {
	obs    Observer
	hellos sync.Map // the raw net.Conn of each handshake not yet settled
}

// watchHandshakes returns a copy of cfg that notes each handshake's
// start, and the watch whose settle method must see each connection made
// with it once the handshake is over.
func watchHandshakes(cfg *tls.Config, obs Observer) (*tls.Config, *handshakeWatch) {
	w := &handshakeWatch{obs: obs}
	cfg = cfg.Clone()
	next := cfg.GetConfigForClient
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		w.hellos.Store(hello.Conn, struct{}{})
		if next == nil {
			return nil, nil
		}
		return next(hello)
	}
	return cfg, w
}

// settle reports the handshake c began, once: a success if it completed.
func (w *handshakeWatch) settle(c net.Conn) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return
	}
	if _, began := w.hellos.LoadAndDelete(tc.NetConn()); began {
		w.obs.Handshake(tc.ConnectionState().HandshakeComplete)
	}
}

// observeHandshakes makes srv report its handshakes to obs, and returns the
// watch for connections srv does not serve itself.
func observeHandshakes(srv *http.Server, obs Observer) *handshakeWatch {
	cfg, w := watchHandshakes(srv.TLSConfig, obs)
	srv.TLSConfig = cfg
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		if state != http.StateNew {
			w.settle(c)
		}
		if prev != nil {
			prev(c, state)
		}
	}
	return w
}
