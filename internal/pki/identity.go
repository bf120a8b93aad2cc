package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// AdminIdentity is the identity of the operator's tools (`up`, `status`,
// `verify`), which may reach every admin endpoint.
const AdminIdentity = "admin"

// ServerID returns the identity of the server named name.
func ServerID(name string) string { return "server/" + name }

// Identity is one server's pair of certificates. Run renews them while the
// server runs; the TLS configs always present the current ones.
type Identity struct {
	Name   string
	Server tls.Certificate // as first issued; presented by its listeners
	Client tls.Certificate // as first issued; presented when it calls a peer
	ca     *CA
	addrs  []net.IP
	server atomic.Pointer[tls.Certificate]
	client atomic.Pointer[tls.Certificate]
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
	id := &Identity{Name: name, Server: server, Client: client, ca: ca, addrs: addrs}
	id.server.Store(&server)
	id.client.Store(&client)
	return id, nil
}

// RenewCheck is how often a running server checks whether its
// certificates are due for renewal.
var RenewCheck = time.Hour

// Run renews the identity's certificates when a third of their life is
// left, until ctx ends. New handshakes use the new certificates at once.
func (id *Identity) Run(ctx context.Context) error {
	t := time.NewTicker(RenewCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		fresh, err := id.ca.ServerIdentity(id.Name, id.addrs)
		if err != nil {
			slog.Error("certificate renewal failed; will retry", "server", id.Name, "err", err)
			continue
		}
		if !fresh.Server.Leaf.Equal(id.server.Load().Leaf) {
			slog.Info("certificates renewed", "server", id.Name, "not_after", fresh.Server.Leaf.NotAfter)
		}
		id.server.Store(&fresh.Server)
		id.client.Store(&fresh.Client)
	}
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
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return id.server.Load(), nil
		},
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  id.ca.Pool,
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

// CurrentClient returns the client certificate in service: the renewed
// one once Run has renewed it.
func (id *Identity) CurrentClient() tls.Certificate { return *id.client.Load() }

// ClientTLS is the config for calling a peer: TLS 1.3, the server verified
// against the site CA by its address, and this server's client certificate.
func (id *Identity) ClientTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return id.client.Load(), nil
		},
		RootCAs: id.ca.Pool,
	}
}

// ClientTLSFor is ClientTLS for another certificate, such as the admin's.
func (ca *CA) ClientTLSFor(cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, RootCAs: ca.Pool}
}
