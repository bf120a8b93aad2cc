package pki

import (
	"context"
	"crypto/tls"
)

// SiteCertificate is the site's public certificate, whatever its source.
type SiteCertificate interface {
	// GetCertificate serves tls.Config.GetCertificate.
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Run keeps the certificate fresh (reload, renewal) until ctx ends.
	Run(ctx context.Context) error
}

// staticCertificate is a certificate that never changes while running.
type staticCertificate struct{ cert tls.Certificate }

func (s *staticCertificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return &s.cert, nil
}

func (s *staticCertificate) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// SiteFromCA issues the site's certificate for domain from the private CA.
func (ca *CA) SiteFromCA(domain string) (SiteCertificate, error) {
	cert, err := ca.Issue(Leaf{File: "site", Usage: ServerAuth, Subject: domain, DNSNames: []string{domain}})
	if err != nil {
		return nil, err
	}
	return &staticCertificate{cert: cert}, nil
}
