package pki

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen serves TLS handshakes with cfg on loopback and reports each
// handshake's error.
func listen(t *testing.T, cfg *tls.Config) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	errs := make(chan error, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				c.SetDeadline(time.Now().Add(5 * time.Second))
				err := tc.Handshake()
				if err == nil {
					io.WriteString(tc, "ok")
				}
				errs <- err
			}()
		}
	}()
	return ln.Addr().String(), errs
}

func TestInternalListenerAcceptsOnlyAllowedPeers(t *testing.T) {
	ca, err := OpenCA(t.TempDir(), "www.foobar.com")
	if err != nil {
		t.Fatal(err)
	}
	loop := []net.IP{net.ParseIP("127.0.0.1")}
	web, _ := ca.ServerIdentity("web-1", loop)
	lb, _ := ca.ServerIdentity("lb-1", loop)
	app, _ := ca.ServerIdentity("app-1", loop)
	other, _ := OpenCA(t.TempDir(), "www.foobar.com")
	stranger, _ := other.ServerIdentity("lb-1", loop)

	addr, serverErrs := listen(t, web.ServerTLS([]string{ServerID("lb-1")}))
	cases := []struct {
		name   string
		client *tls.Config
		ok     bool
	}{
		{"the lb's certificate", lb.ClientTLS(), true},
		{"the wrong role's certificate", app.ClientTLS(), false},
		{"no certificate", &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS13}, false},
		{"a certificate from another CA", &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{stranger.Client}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.client.ServerName = "127.0.0.1"
			conn, err := tls.Dial("tcp", addr, c.client)
			if err == nil {
				// TLS 1.3 clients learn of a rejected certificate on first read.
				_, err = io.ReadAll(conn)
				conn.Close()
			}
			serr := <-serverErrs
			if c.ok && (err != nil || serr != nil) {
				t.Fatalf("refused: client %v, server %v", err, serr)
			}
			if !c.ok && serr == nil {
				t.Fatal("the listener accepted the peer")
			}
		})
	}
}

func TestInternalListenerRefusesPlaintext(t *testing.T) {
	ca, _ := OpenCA(t.TempDir(), "www.foobar.com")
	web, _ := ca.ServerIdentity("web-1", []net.IP{net.ParseIP("127.0.0.1")})
	addr, serverErrs := listen(t, web.ServerTLS([]string{ServerID("lb-1")}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	reply, _ := io.ReadAll(c)
	c.Close()
	if strings.Contains(string(reply), "ok") {
		t.Fatalf("plaintext client got an answer: %q", reply)
	}
	if err := <-serverErrs; err == nil {
		t.Fatal("plaintext handshake succeeded")
	}
}

func TestCertificatesAreReusedAndRenewed(t *testing.T) {
	dir := t.TempDir()
	ca, _ := OpenCA(dir, "www.foobar.com")
	a, _ := ca.ServerIdentity("web-1", []net.IP{net.ParseIP("127.0.1.2")})
	again, _ := OpenCA(dir, "www.foobar.com")
	if !again.Cert.Equal(ca.Cert) {
		t.Fatal("reopening the state dir made a new CA")
	}
	b, _ := again.ServerIdentity("web-1", []net.IP{net.ParseIP("127.0.1.2")})
	if !b.Server.Leaf.Equal(a.Server.Leaf) {
		t.Error("an unchanged server got a new certificate")
	}
	c, _ := again.ServerIdentity("web-1", []net.IP{net.ParseIP("127.0.1.9")})
	if c.Server.Leaf.Equal(a.Server.Leaf) || !c.Server.Leaf.IPAddresses[0].Equal(net.ParseIP("127.0.1.9")) {
		t.Error("a server whose address changed kept its old certificate")
	}
	if _, err := c.Server.Leaf.Verify(x509Opts(ca)); err != nil {
		t.Errorf("leaf does not verify: %v", err)
	}
}

func TestAMismatchedPairOnDiskIsReissued(t *testing.T) {
	dir := t.TempDir()
	ca, _ := OpenCA(dir, "www.foobar.com")
	ca.ServerIdentity("web-1", nil)
	ca.ServerIdentity("web-2", nil)
	// As if a crash came between writing web-1's new key and its certificate.
	key, _ := os.ReadFile(filepath.Join(dir, "web-2.server.key"))
	os.WriteFile(filepath.Join(dir, "web-1.server.key"), key, 0o600)
	id, err := ca.ServerIdentity("web-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(pemOf(t, dir, "web-1.server.crt"), pemOf(t, dir, "web-1.server.key")); err != nil {
		t.Fatalf("the pair on disk still does not match: %v", err)
	}
	if id.Server.Leaf.Subject.CommonName != "web-1" {
		t.Fatal("wrong certificate")
	}
}

func pemOf(t *testing.T, dir, name string) []byte {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRunningIdentityPresentsRenewedCertificates(t *testing.T) {
	dir := t.TempDir()
	ca, _ := OpenCA(dir, "www.foobar.com")
	loop := []net.IP{net.ParseIP("127.0.0.1")}
	web, _ := ca.ServerIdentity("web-1", loop)
	lb, _ := ca.ServerIdentity("lb-1", loop)
	old := web.Server.Leaf
	RenewCheck = 20 * time.Millisecond
	defer func() { RenewCheck = time.Hour }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go web.Run(ctx)
	// Losing the files stands in for reaching the renewal age.
	os.Remove(filepath.Join(dir, "web-1.server.crt"))
	deadline := time.Now().Add(2 * time.Second)
	for web.server.Load().Leaf.Equal(old) {
		if time.Now().After(deadline) {
			t.Fatal("the certificate was not renewed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	addr, serverErrs := listen(t, web.ServerTLS([]string{ServerID("lb-1")}))
	cfg := lb.ClientTLS()
	cfg.ServerName = "127.0.0.1"
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	<-serverErrs
	if got.Equal(old) {
		t.Fatal("handshakes still present the old certificate")
	}
}
