package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// FileCertificate is a certificate and key in PEM files that an operator
// (or certbot) manages. It is reloaded when either file changes on disk; a
// change that does not load keeps the previous certificate in service.
type FileCertificate struct {
	CertFile, KeyFile string
	// Interval is how often the files are checked. Default 2s.
	Interval time.Duration
	Logger   *slog.Logger

	cur     atomic.Pointer[tls.Certificate]
	mu      sync.Mutex // guards stamp and reloads
	stamp   string
	checked atomic.Int64 // when the files were last looked at (Unix nanoseconds)
}

// LoadFileCertificate loads the pair, failing with one clear line when a
// file is missing or does not hold a matching certificate and key.
func LoadFileCertificate(certFile, keyFile string) (*FileCertificate, error) {
	f := &FileCertificate{CertFile: certFile, KeyFile: keyFile, Interval: 2 * time.Second, Logger: slog.Default()}
	if err := f.load(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *FileCertificate) load() error {
	stamp, err := f.fileStamp()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return fmt.Errorf("certificate %s with key %s: %w", f.CertFile, f.KeyFile, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("certificate %s: %w", f.CertFile, err)
	}
	if time.Now().After(leaf.NotAfter) {
		return fmt.Errorf("certificate %s expired on %s", f.CertFile, leaf.NotAfter.Format(time.DateOnly))
	}
	cert.Leaf = leaf
	f.cur.Store(&cert)
	f.stamp = stamp
	return nil
}

// fileStamp identifies the files' current contents by size and mtime.
func (f *FileCertificate) fileStamp() (string, error) {
	var stamp string
	for _, p := range []string{f.CertFile, f.KeyFile} {
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("certificate file: %w", err)
		}
		stamp += fmt.Sprintf("%d/%d;", st.Size(), st.ModTime().UnixNano())
	}
	return stamp, nil
}

// Leaf returns the certificate in service.
func (f *FileCertificate) Leaf() *x509.Certificate { return f.cur.Load().Leaf }

// GetCertificate serves tls.Config.GetCertificate.
func (f *FileCertificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cur.Load(), nil
}

// GetClientCertificate serves tls.Config.GetClientCertificate. It looks at
// the files itself, at most once an Interval, so that a client without a
// Run loop (a program that only connects) still picks up a renewal.
func (f *FileCertificate) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if time.Now().UnixNano()-f.checked.Load() >= int64(f.Interval) {
		f.reload()
	}
	return f.cur.Load(), nil
}

// Run watches the files until ctx ends.
func (f *FileCertificate) Run(ctx context.Context) error {
	t := time.NewTicker(f.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		f.reload()
	}
}

// reload loads the files again if they changed since the last load.
func (f *FileCertificate) reload() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checked.Store(time.Now().UnixNano())
	stamp, err := f.fileStamp()
	if err != nil || stamp == f.stamp {
		return
	}
	if err := f.load(); err != nil {
		f.stamp = stamp // report a bad file once, not every tick
		f.Logger.Error("certificate files changed but did not load; keeping the previous certificate", "err", err)
		return
	}
	f.Logger.Info("certificate reloaded", "file", f.CertFile, "subject", f.Leaf().Subject.String(), "not_after", f.Leaf().NotAfter)
}
