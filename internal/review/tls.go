package review

import (
	"fmt"
	"slices"
	"time"

	"github.com/rampart-dev/rampart/internal/topology"
)

// minHSTS is the shortest Strict-Transport-Security max-age that SSL Labs
// and the HSTS preload list accept: shorter, and browsers forget too soon.
const minHSTS = 180 * 24 * time.Hour

// tlsRules cover how traffic is encrypted. The file cannot ask for TLS
// below 1.2 (parsing refuses it) nor choose ciphers (the lb uses the Mozilla
// intermediate profile), so the TLS knobs left to review are the policy and
// HSTS.
var tlsRules = []Rule{
	{ID: "RAMPART-TLS-TERMINATED", Severity: Critical, Title: "TLS ends at the load balancer", find: tlsTerminated},
	{ID: "RAMPART-TLS-HSTS-SHORT", Severity: Warning, Title: "HSTS is too short to protect returning visitors", find: hstsShort},
}

func tlsTerminated(t *topology.Topology) (Finding, bool) {
	if t.TLS.Policy != topology.Terminate {
		return Finding{}, false
	}
	var flows []topology.Flow
	involved := map[string]bool{}
	for _, f := range t.Flows() {
		// Clients' plain HTTP only reaches the redirect, by design, and a
		// server calling itself never crosses the network.
		if f.Protection != topology.Plaintext || f.From == topology.FromClients || f.From == f.To {
			continue
		}
		flows = append(flows, f)
		involved[f.From], involved[f.To] = true, true
	}
	var kinds []string
	for _, k := range []struct {
		s    topology.Service
		what string
	}{{topology.ServiceWeb, "lb to web"}, {topology.ServiceApp, "web to app"}, {topology.ServiceMySQL, "app to database"}} {
		if slices.ContainsFunc(flows, func(f topology.Flow) bool { return f.Service == k.s }) {
			kinds = append(kinds, k.what)
		}
	}
	return Finding{
		Servers: inOrder(t, involved),
		Flows:   flows,
		Why: fmt.Sprintf("With tls.policy: terminate, TLS ends at the load balancer and the %d %s behind it "+
			"(%s) cross the network in plaintext: anyone on that network can read and change requests, "+
			"session cookies, passwords and queries. The backends also never see the client's certificate, "+
			"so they cannot authenticate or authorize anyone by it.",
			len(flows), plural(len(flows), "hop", "hops"), list(kinds)),
		Fix: Fix{
			Text: "Set tls.policy: reencrypt. Every hop behind the load balancer then uses mutual TLS from the " +
				"site's CA, each server accepts only the peers its role expects, and the client's verified " +
				"certificate travels on in X-Rampart-Client-Cert, which only such a peer may set.",
			Apply: func(t *topology.Topology) { t.TLS.Policy = topology.Reencrypt },
		},
	}, true
}

func hstsShort(t *topology.Topology) (Finding, bool) {
	if t.TLS.HSTS >= minHSTS {
		return Finding{}, false
	}
	return Finding{
		Servers: names(t.WithRole(topology.RoleLB)),
		Why: fmt.Sprintf("tls.hsts is %s: a browser remembers to refuse plain HTTP for the site only that long. "+
			"A visitor who returns later makes a first plain request again, and anyone on the path can answer "+
			"it instead of the site. %d days is the least that SSL Labs and the HSTS preload list accept.",
			fmt.Sprintf("%gh", t.TLS.HSTS.Hours()), int(minHSTS.Hours()/24)),
		Fix: Fix{
			Text:  "Set tls.hsts: 8760h (a year).",
			Apply: func(t *topology.Topology) { t.TLS.HSTS = 365 * 24 * time.Hour },
		},
	}, true
}
