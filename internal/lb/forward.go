package lb

import (
	"context"
	"net/http"
	"net/http/httputil"

	"github.com/rampart-dev/rampart/internal/hop"
)

// requestIDKey carries the request ID from the handler to the rewrite.
type requestIDKey struct{}

// rewrite sets the headers a request carries from the edge inward. It runs
// as the pool's Rewrite hook, after ReverseProxy has removed hop-by-hop and
// X-Forwarded-* headers from the outgoing request.
func (l *LB) rewrite(pr *httputil.ProxyRequest) {
	// The lb is the edge: the client's own X-Forwarded-For is a claim
	// nobody can check, so it is replaced by the address that connected,
	// not extended. ReverseProxy already dropped it from pr.Out.
	pr.SetXForwarded()
	pr.Out.Header.Set("X-Forwarded-Proto", "https")

	if id, ok := pr.In.Context().Value(requestIDKey{}).(string); ok {
		pr.Out.Header.Set(hop.RequestID, id)
	}

	// Via starts here, so the chain lists only rampart's servers.
	pr.Out.Header.Del(hop.Via)
	hop.AddVia(pr.Out.Header, l.name)

	if l.forwardClientCert {
		hop.SetClientCert(pr.Out) // replaces any client-sent value
	} else {
		hop.DeleteClientCert(pr.Out.Header)
	}
}

// modifyResponse drops the headers the lb owns from a backend's response,
// so the client gets the lb's values once, not two conflicting copies.
func (l *LB) modifyResponse(resp *http.Response) error {
	resp.Header.Del(hop.RequestID)
	resp.Header.Del(hstsHeader)
	return nil
}

// serveHTTPS is the HTTPS handler: HSTS and the request ID on the response,
// then the pool.
func (l *LB) serveHTTPS(w http.ResponseWriter, r *http.Request) {
	id := hop.NewRequestID()
	h := w.Header()
	h.Set(hstsHeader, l.hsts)
	h.Set(hop.RequestID, id)
	l.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
}
