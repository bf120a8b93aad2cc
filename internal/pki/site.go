package pki

import (
	"context"
	"crypto/tls"
	"log/slog"
	"sync/atomic"
	"time"
)

// SiteCertificate is the site's public certificate, whatever its source.
type SiteCertificate interface {
	// GetCertificate serves tls.Config.GetCertificate.
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Run keeps the certificate fresh (reload, renewal) until ctx ends.
	Run(ctx context.Context) error
}

// caSiteCertificate is the site's certificate from the private CA,
// renewed while it runs.
type caSiteCertificate struct {
	ca   *CA
	leaf Leaf
	cur  atomic.Pointer[tls.Certificate]
}

func (c *caSiteCertificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

func (c *caSiteCertificate) Run(ctx context.Context) error {
	t := time.NewTicker(RenewCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cert, err := c.ca.Issue(c.leaf)
		if err != nil {
			slog.Error("site certificate renewal failed; will retry", "err", err)
			continue
		}
		c.cur.Store(&cert)
	}
}

// SiteFromCA issues the site's certificate for domain from the private CA.
func (ca *CA) SiteFromCA(domain string) (SiteCertificate, error) {
	leaf := Leaf{File: "site", Usage: ServerAuth, Subject: domain, DNSNames: []string{domain}}
	cert, err := ca.Issue(leaf)
	if err != nil {
		return nil, err
	}
	c := &caSiteCertificate{ca: ca, leaf: leaf}
	c.cur.Store(&cert)
	return c, nil
}
