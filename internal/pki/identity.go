package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
)

// AdminIdentity is the identity of the operator's tools (`up`, `status`,
// `verify`), which may reach every admin endpoint.
const AdminIdentity = "admin"

// ServerID returns the identity of the server named name.
func ServerID(name string) string { return "server/" + name }

// Identity is one server's pair of certificates.
type Identity struct {
	Name   string
	Server tls.Certificate // presented by its listeners
	Client tls.Certificate // presented when it calls a peer
	ca     *CA
}

// ServerIdentity returns the certificates of server name, whose listeners
// are reached at addrs.
func (ca *CA) ServerIdentity(name string, addrs []net.IP) (*Identity, error) {
	server, err := ca.Issue(Leaf{File: name + ".server", Usage: ServerAuth, Subject: name,
		DNSNames: []string{name}, IPs: addrs, Identity: ServerID(name)})
	if err != nil {
		return nil, err
	}
	client, err := ca.Issue(Leaf{File: name + ".client", Usage: ClientAuth, Subject: name, Identity: ServerID(name)})
	if err != nil {
		return nil, err
	}
	return &Identity{Name: name, Server: server, Client: client, ca: ca}, nil
}

// Admin returns the admin client certificate.
func (ca *CA) Admin() (tls.Certificate, error) {
	return ca.Issue(Leaf{File: "admin.client", Usage: ClientAuth, Subject: "rampart admin", Identity: AdminIdentity})
}

// PeerIdentity returns the identity in a certificate issued by this CA's
// site, such as "server/lb-1" or "admin".
func (ca *CA) PeerIdentity(cert *x509.Certificate) (string, bool) {
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" && u.Host == ca.domain {
			return strings.TrimPrefix(u.Path, "/"), true
		}
	}
	return "", false
}

// ErrPeerNotAllowed is returned by a handshake with a peer whose identity
// the listener does not accept.
var ErrPeerNotAllowed = errors.New("peer not allowed")

// ServerTLS is the config of an internal listener: TLS 1.3, a client
// certificate from the site CA required, and the peer's identity one of
// allowed. Anyone else fails the handshake.
func (id *Identity) ServerTLS(allowed []string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.Server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    id.ca.Pool,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: no client certificate", ErrPeerNotAllowed)
			}
			peer, ok := id.ca.PeerIdentity(cs.PeerCertificates[0])
			if !ok || !slices.Contains(allowed, peer) {
				return fmt.Errorf("%w: %q may not reach %s", ErrPeerNotAllowed, peer, id.Name)
			}
			return nil
		},
	}
}

// ClientTLS is the config for calling a peer: TLS 1.3, the server verified
// against the site CA by its address, and this server's client certificate.
func (id *Identity) ClientTLS() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.Client},
		RootCAs:      id.ca.Pool,
	}
}

// ClientTLSFor is ClientTLS for another certificate, such as the admin's.
func (ca *CA) ClientTLSFor(cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, RootCAs: ca.Pool}
}
