package app

import (
	"net/http"

	"github.com/rampart-dev/rampart/internal/hop"
)

// Whoami tells which servers a request passed through and what they said
// about the client.
type Whoami struct {
	// Site is the host name the client asked for.
	Site string `json:"site"`
	// LB, Web and App are the servers that handled the request, read from
	// the end of the Via chain, where this app server adds itself. A hop
	// that is missing, because the request did not pass it, is "".
	LB  string `json:"lb"`
	Web string `json:"web"`
	App string `json:"app"`
	// Via is every server in order, this one last.
	Via            []string `json:"via"`
	RequestID      string   `json:"request_id"`
	ForwardedFor   string   `json:"forwarded_for"`
	ForwardedProto string   `json:"forwarded_proto"`
	// ClientCert describes the client certificate the lb verified, or is ""
	// when the client sent none or a hop was not mutual TLS.
	ClientCert string `json:"client_cert"`
}

// whoami reads r's hop headers as seen by the app server named server.
func whoami(r *http.Request, server string) Whoami {
	via := append(hop.ViaServers(r.Header.Get(hop.Via)), server)
	at := func(fromEnd int) string {
		if i := len(via) - 1 - fromEnd; i >= 0 {
			return via[i]
		}
		return ""
	}
	site := r.Header.Get("X-Forwarded-Host")
	if site == "" {
		site = r.Host
	}
	return Whoami{
		Site:           site,
		LB:             at(2),
		Web:            at(1),
		App:            at(0),
		Via:            via,
		RequestID:      r.Header.Get(hop.RequestID),
		ForwardedFor:   r.Header.Get("X-Forwarded-For"),
		ForwardedProto: r.Header.Get("X-Forwarded-Proto"),
		ClientCert:     r.Header.Get(hop.ClientCert),
	}
}
