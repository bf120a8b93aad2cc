package hop

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// Header names set by rampart. They are written here once.
const (
	// RequestID identifies one client request across every hop.
	RequestID = "X-Request-Id"
	// ClientCert carries the client certificate that the lb verified, as
	// `subject="..."; sha256=...`.
	ClientCert = "X-Rampart-Client-Cert"
	// Via lists the servers a request passed through, as in RFC 9110.
	Via = "Via"
)

// NewRequestID returns a random 128-bit request ID in hex.
func NewRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// AddVia appends this server to the request's Via header.
func AddVia(h http.Header, server string) {
	entry := "1.1 " + server
	if v := h.Get(Via); v != "" {
		h.Set(Via, v+", "+entry)
		return
	}
	h.Set(Via, entry)
}

// ViaServers returns the server names in a Via header, in order.
func ViaServers(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ",") {
		f := strings.Fields(part)
		if len(f) >= 2 {
			out = append(out, f[1])
		}
	}
	return out
}

// FormatClientCert renders a verified certificate for the ClientCert header.
func FormatClientCert(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return fmt.Sprintf("subject=%q; sha256=%s", c.Subject.String(), hex.EncodeToString(sum[:]))
}

// DeleteClientCert removes every header that a backend could read as
// ClientCert: CGI, WSGI, Rack and PHP read X_Rampart_Client_Cert the same
// as X-Rampart-Client-Cert, so any spelling with underscores goes too.
func DeleteClientCert(h http.Header) {
	for k := range h {
		if len(k) == len(ClientCert) && strings.EqualFold(strings.ReplaceAll(k, "_", "-"), ClientCert) {
			delete(h, k)
		}
	}
}

// SetClientCert replaces any ClientCert header with the verified peer
// certificate of r, if r came over TLS with one. The lb calls it on every
// client request, so a header sent by a client is always dropped.
func SetClientCert(r *http.Request) {
	DeleteClientCert(r.Header)
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		r.Header.Set(ClientCert, FormatClientCert(r.TLS.VerifiedChains[0][0]))
	}
}

// KeepClientCert removes the ClientCert header unless the request arrived
// over mutual TLS from a verified peer. Internal servers call it, so the
// header survives only along an unbroken chain of mTLS hops.
func KeepClientCert(r *http.Request) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		DeleteClientCert(r.Header)
	}
}
