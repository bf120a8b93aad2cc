package lb

import (
	"net"
	"net/http"
	"net/http/httputil"
	"strings"

	"github.com/rampart-dev/rampart/internal/hop"
)

// rewrite sets the headers a request carries from the edge inward. It runs
// as the pool's Rewrite hook, after the pool has removed hop-by-hop and
// X-Forwarded-* headers from the outgoing request.
func (l *LB) rewrite(pr *httputil.ProxyRequest) {
	// The lb is the edge: the client's own X-Forwarded-For is a claim
	// nobody can check, so it is replaced by the address that connected,
	// not extended. The pool already dropped it from pr.Out.
	//
	// This sets what pr.SetXForwarded, Header.Set and hop.AddVia would,
	// with the per-request values in one allocation and the constant ones
	// shared: it runs for every request, and a slice per header showed in
	// the lb's profile. Each slice is capped so that an append elsewhere
	// copies rather than overwrites.
	h := pr.Out.Header
	v := make([]string, 3)
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err != nil {
		delete(h, "X-Forwarded-For")
	} else {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 { // a pool hook set one
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		v[0] = ip
		h["X-Forwarded-For"] = v[0:1:1]
	}
	v[1] = pr.In.Host
	h["X-Forwarded-Host"] = v[1:2:2]
	h["X-Forwarded-Proto"] = httpsValue

	if ids := pr.In.Header[hop.RequestID]; len(ids) == 1 { // set by serveHTTPS
		v[2] = ids[0]
		h[hop.RequestID] = v[2:3:3]
	}

	// Via starts here, so the chain lists only rampart's servers: this
	// replaces any Via the client sent.
	h[hop.Via] = l.via

	if l.forwardClientCert {
		hop.SetClientCert(pr.Out) // replaces any client-sent value
	} else {
		hop.DeleteClientCert(pr.Out.Header)
	}
}

// httpsValue is X-Forwarded-Proto's value, shared by every request: capped,
// so an append copies it.
var httpsValue = []string{"https"}[:1:1]

// serveHTTPS is the HTTPS handler: HSTS and the request ID on the response,
// then the pool.
func (l *LB) serveHTTPS(w http.ResponseWriter, r *http.Request) {
	id := []string{hop.NewRequestID()}
	h := w.Header()
	h[hstsHeader] = l.hsts
	h[hop.RequestID] = id
	// The rewrite takes the ID from the inbound headers, where it replaces
	// whatever the client sent: cheaper than a context value and a copy
	// of the request, for every request.
	r.Header[hop.RequestID] = id
	l.proxy.ServeHTTP(w, r)
}
