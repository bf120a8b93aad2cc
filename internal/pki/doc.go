// Package pki owns the site's private certificate authority and every
// certificate rampart uses: a server certificate and a client certificate
// per server, the admin client certificate, and the site's public
// certificate from one of three sources (the private CA, PEM files reloaded
// when they change, or ACME).
//
// Keys are ECDSA P-256 and are written with mode 0600 in the state
// directory. Peer identities are URI SANs of the form
// spiffe://DOMAIN/server/NAME, and the TLS configs built here are the only
// place a peer's identity is checked. This package must never decide which
// peers are allowed: callers derive that from the topology.
package pki
