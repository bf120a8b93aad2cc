package lb

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// acmeChallengePrefix is where an ACME CA fetches HTTP-01 challenge tokens.
const acmeChallengePrefix = "/.well-known/acme-challenge/"

// serveRedirect answers plain HTTP: ACME challenges go to the hook, every
// other request gets a permanent redirect to the same URL over HTTPS. 308
// keeps the method and body, unlike 301.
func (l *LB) serveRedirect(w http.ResponseWriter, r *http.Request) {
	if l.acme != nil && strings.HasPrefix(r.URL.Path, acmeChallengePrefix) {
		l.acme.ServeHTTP(w, r)
		return
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" {
		http.Error(w, "400 bad request: missing Host", http.StatusBadRequest)
		return
	}
	if l.httpsPort != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(l.httpsPort))
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]" // a bare IPv6 literal
	}
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
}
