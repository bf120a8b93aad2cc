package harness

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/rampart-dev/rampart/internal/pki"
)

// The names the benchmark's certificates carry. The site certificate is the
// one every peer presents; the identities are those of a reencrypt site
// with one lb and two web servers.
const (
	Domain = "www.foobar.com"
	LBName = "lb-1"
)

// BackendNames are the two identical backends.
var BackendNames = []string{"web-1", "web-2"}

var loopbackIP = net.IPv4(127, 0, 0, 1)

// Certs are the files of the benchmark's PKI.
type Certs struct {
	Dir      string // the CA directory, shared with the child processes
	CACert   string
	SiteCert string // ECDSA P-256, for Domain, localhost and 127.0.0.1
	SiteKey  string
	SitePEM  string // certificate then key, the form HAProxy reads
}

// siteLeaf is the one site certificate every peer serves.
func siteLeaf() pki.Leaf {
	return pki.Leaf{File: "site", Usage: pki.ServerAuth, Subject: Domain,
		DNSNames: []string{Domain, "localhost"}, IPs: []net.IP{loopbackIP}}
}

// PreparePKI creates, with rampart's own CA code, the site certificate and
// every identity the lb and the backends use, so the child processes only
// load them and never race to write them.
func PreparePKI(dir string) (Certs, error) {
	ca, err := pki.OpenCA(dir, Domain)
	if err != nil {
		return Certs{}, err
	}
	if _, err := ca.Issue(siteLeaf()); err != nil {
		return Certs{}, err
	}
	// The monitor's identity is the one the harness scrapes the monitored
	// lb with.
	for _, n := range []string{LBName, MonitorName} {
		if _, err := ca.ServerIdentity(n, nil); err != nil {
			return Certs{}, err
		}
	}
	for _, n := range BackendNames {
		if _, err := ca.ServerIdentity(n, []net.IP{loopbackIP}); err != nil {
			return Certs{}, err
		}
	}
	c := Certs{
		Dir:      dir,
		CACert:   ca.CertPath,
		SiteCert: filepath.Join(dir, "site.crt"),
		SiteKey:  filepath.Join(dir, "site.key"),
		SitePEM:  filepath.Join(dir, "site.pem"),
	}
	crt, err := os.ReadFile(c.SiteCert)
	if err != nil {
		return Certs{}, fmt.Errorf("pki: %w", err)
	}
	key, err := os.ReadFile(c.SiteKey)
	if err != nil {
		return Certs{}, fmt.Errorf("pki: %w", err)
	}
	if err := os.WriteFile(c.SitePEM, append(crt, key...), 0o600); err != nil {
		return Certs{}, fmt.Errorf("pki: %w", err)
	}
	return c, nil
}
