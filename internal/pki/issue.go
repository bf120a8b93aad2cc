package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"time"
)

// Usage says what a leaf certificate is for.
type Usage int

const (
	ServerAuth Usage = iota
	ClientAuth
	// PeerAuth is for a server whose one certificate both accepts and opens
	// connections, such as a Galera node: OpenSSL checks each end's purpose.
	PeerAuth
)

// Leaf describes a certificate to issue.
type Leaf struct {
	// File is the base name in the CA directory: File.crt and File.key.
	File     string
	Usage    Usage
	Subject  string
	DNSNames []string
	IPs      []net.IP
	// Identity, when set, becomes the URI SAN spiffe://DOMAIN/Identity.
	Identity string
}

// Issue returns the certificate for l, reusing the one on disk while it
// matches l and is not due for renewal, and issuing a new one otherwise.
func (ca *CA) Issue(l Leaf) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(ca.dir, l.File+".crt"), filepath.Join(ca.dir, l.File+".key")
	if cert, key, err := loadPair(certPath, keyPath); err == nil && ca.current(cert, l) {
		return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: l.Subject, Organization: []string{"rampart"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     l.DNSNames,
		IPAddresses:  l.IPs,
	}
	switch l.Usage {
	case ServerAuth:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case PeerAuth:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	default:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if l.Identity != "" {
		tmpl.URIs = []*url.URL{ca.identityURI(l.Identity)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: issue %s: %w", l.File, err)
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: write %s: %w", l.File, err)
	}
	cert, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, nil
}

// current reports whether cert on disk still serves l: issued by this CA,
// for the same names, with more than a third of its life left.
func (ca *CA) current(cert *x509.Certificate, l Leaf) bool {
	if cert.CheckSignatureFrom(ca.Cert) != nil || cert.Subject.CommonName != l.Subject {
		return false
	}
	if !slices.Equal(cert.DNSNames, l.DNSNames) || len(cert.IPAddresses) != len(l.IPs) {
		return false
	}
	for i, ip := range l.IPs {
		if !cert.IPAddresses[i].Equal(ip) {
			return false
		}
	}
	if l.Identity != "" && (len(cert.URIs) != 1 || cert.URIs[0].String() != ca.identityURI(l.Identity).String()) {
		return false
	}
	return time.Until(cert.NotAfter) > cert.NotAfter.Sub(cert.NotBefore)/3
}

func (ca *CA) identityURI(id string) *url.URL {
	return &url.URL{Scheme: "spiffe", Host: ca.domain, Path: "/" + id}
}
