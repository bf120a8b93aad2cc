package pki

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func x509Opts(ca *CA) x509.VerifyOptions {
	return x509.VerifyOptions{Roots: ca.Pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
}

func copyFile(t *testing.T, from, to string) {
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFileCertificateReloadsWhenFilesChange(t *testing.T) {
	dir := t.TempDir()
	ca, _ := OpenCA(filepath.Join(dir, "ca"), "www.foobar.com")
	ca.Issue(Leaf{File: "one", Subject: "one.example", DNSNames: []string{"one.example"}})
	ca.Issue(Leaf{File: "two", Subject: "two.example", DNSNames: []string{"two.example"}})
	certFile, keyFile := filepath.Join(dir, "site.crt"), filepath.Join(dir, "site.key")
	copyFile(t, filepath.Join(dir, "ca", "one.crt"), certFile)
	copyFile(t, filepath.Join(dir, "ca", "one.key"), keyFile)

	f, err := LoadFileCertificate(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	f.Interval = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)

	// A broken write keeps the old certificate in service.
	os.WriteFile(certFile, []byte("garbage"), 0o600)
	time.Sleep(100 * time.Millisecond)
	if got := f.Leaf().Subject.CommonName; got != "one.example" {
		t.Fatalf("after a bad write, serving %q", got)
	}
	copyFile(t, filepath.Join(dir, "ca", "two.key"), keyFile)
	copyFile(t, filepath.Join(dir, "ca", "two.crt"), certFile)
	deadline := time.Now().Add(2 * time.Second)
	for f.Leaf().Subject.CommonName != "two.example" {
		if time.Now().After(deadline) {
			t.Fatal("the new certificate was not picked up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, _ := f.GetCertificate(nil)
	if c.Leaf.Subject.CommonName != "two.example" {
		t.Fatal("GetCertificate serves the old certificate")
	}
}

func TestFileCertificateErrorsAreOneLine(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "bad.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o600)
	for _, c := range []struct{ cert, key, want string }{
		{filepath.Join(dir, "missing.crt"), garbage, "no such file"},
		{garbage, garbage, "bad.pem"},
	} {
		_, err := LoadFileCertificate(c.cert, c.key)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("err = %v, want one line mentioning %q", err, c.want)
		}
	}
}

// TestFileClientCertificateFollowsTheFiles: a client with no Run loop gets
// the certificate the files hold now, looked at once an Interval at most.
func TestFileClientCertificateFollowsTheFiles(t *testing.T) {
	dir := t.TempDir()
	ca, _ := OpenCA(filepath.Join(dir, "ca"), "www.foobar.com")
	ca.Issue(Leaf{File: "one", Subject: "one", Usage: ClientAuth})
	ca.Issue(Leaf{File: "two", Subject: "two", Usage: ClientAuth})
	certFile, keyFile := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	copyFile(t, filepath.Join(dir, "ca", "one.crt"), certFile)
	copyFile(t, filepath.Join(dir, "ca", "one.key"), keyFile)
	f, err := LoadFileCertificate(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	f.Interval = 50 * time.Millisecond
	subject := func() string {
		c, err := f.GetClientCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.Subject.CommonName
	}
	if got := subject(); got != "one" {
		t.Fatalf("presents %q, want one", got)
	}
	time.Sleep(10 * time.Millisecond) // a later mtime
	copyFile(t, filepath.Join(dir, "ca", "two.crt"), certFile)
	copyFile(t, filepath.Join(dir, "ca", "two.key"), keyFile)
	deadline := time.Now().Add(2 * time.Second)
	for subject() != "two" {
		if time.Now().After(deadline) {
			t.Fatal("the rewritten files were not picked up within 2s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
