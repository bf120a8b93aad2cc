package pki

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

const acmeTestDomain = "www.foobar.test"

// TestACMEObtainsCertificateFromPebble runs the whole flow against a real
// Pebble: an order, the CA's validation reaching the site's own listeners
// through a name it resolves with a test DNS server, issuance, a handshake
// that verifies against Pebble's root, and a restart that reuses storage.
func TestACMEObtainsCertificateFromPebble(t *testing.T) {
	for _, tc := range []struct {
		challenge                      string
		disableHTTP01, disableTLSALPN1 bool
	}{
		{challenge: "http-01", disableTLSALPN1: true},
		{challenge: "tls-alpn-01", disableHTTP01: true},
	} {
		t.Run(tc.challenge, func(t *testing.T) {
			logger := testLogger(t)
			s := listenSite(t)
			p := startPebble(t, logger, startDNS(t, acmeTestDomain, net.IPv4(127, 0, 0, 1)), s.httpPort(), s.httpsPort())
			cfg := ACMEConfig{
				Domain: acmeTestDomain, Directory: p.directory, Email: "ops@foobar.test",
				CAFile: p.caFile, StorageDir: filepath.Join(t.TempDir(), "acme"),
				HTTPPort: s.httpPort(), HTTPSPort: s.httpsPort(), Logger: slog.New(logger),
				disableHTTP01: tc.disableHTTP01, disableTLSALPN01: tc.disableTLSALPN1,
			}

			a, err := NewACME(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.serve(t, a)
			stop := runACME(t, a)
			start := time.Now()
			if err := readyWithin(a, 15*time.Second); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: certificate issued in %s", tc.challenge, time.Since(start).Round(time.Millisecond))
			if got := p.orders.Load(); got != 1 {
				t.Errorf("Pebble saw %d orders, want 1", got)
			}
			if tc.challenge == "http-01" && (s.http01.Load() == 0 || s.tlsALPN01.Load() != 0) ||
				tc.challenge == "tls-alpn-01" && (s.tlsALPN01.Load() == 0 || s.http01.Load() != 0) {
				t.Errorf("validation requests: http-01 %d, tls-alpn-01 %d; want only %s",
					s.http01.Load(), s.tlsALPN01.Load(), tc.challenge)
			}
			first := s.handshake(t, p.roots)
			if err := stop(); err != nil {
				t.Fatalf("Run after its context ended: %v", err)
			}

			// A restart with the same storage serves the stored certificate
			// without asking the CA for a new one.
			b, err := NewACME(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.use(b)
			runACME(t, b)
			if err := readyWithin(b, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if got := p.orders.Load(); got != 1 {
				t.Errorf("after a restart Pebble saw %d orders, want still 1", got)
			}
			if again := s.handshake(t, p.roots); !again.Equal(first) {
				t.Errorf("after a restart serving serial %s, want the stored %s", again.SerialNumber, first.SerialNumber)
			}
		})
	}
}

func TestACMEReadyFailsFastWhenTheDirectoryIsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	a, err := NewACME(ACMEConfig{Domain: acmeTestDomain, Directory: "https://" + dead + "/dir",
		Email: "ops@foobar.test", StorageDir: t.TempDir(), Logger: slog.New(testLogger(t))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()

	start := time.Now()
	err = readyWithin(a, 10*time.Second)
	elapsed := time.Since(start)
	t.Logf("Ready failed after %s: %v", elapsed.Round(time.Millisecond), err)
	if err == nil || elapsed > 5*time.Second {
		t.Fatalf("Ready = %v after %s, want an error within 5s", err, elapsed)
	}
	for _, want := range []string{acmeTestDomain, dead, "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is more than one line: %q", err)
	}
	// Run keeps trying instead of ending the lb, and stops when asked.
	select {
	case got := <-runErr:
		t.Fatalf("Run gave up after one failed order: %v", got)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	select {
	case got := <-runErr:
		if got != nil {
			t.Errorf("Run returned %v after cancel, want nil", got)
		}
	case <-time.After(5 * time.Second):
		t.Error("Run did not stop when its context ended")
	}
}

func TestACMEBeforeRun(t *testing.T) {
	a, err := NewACME(ACMEConfig{Domain: acmeTestDomain, Directory: "https://127.0.0.1:1/dir",
		Email: "ops@foobar.test", StorageDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := a.GetCertificate(&tls.ClientHelloInfo{ServerName: acmeTestDomain}); err == nil {
		t.Errorf("GetCertificate before Run = %v, want an error", c)
	}
	var passed bool
	h := a.HTTPChallengeHandler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed = true }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://"+acmeTestDomain+"/.well-known/acme-challenge/abc", nil))
	if !passed {
		t.Error("a challenge request before Run did not reach the next handler")
	}
	if got := a.NextProtos(); !slices.Equal(got, []string{"acme-tls/1"}) {
		t.Errorf("NextProtos = %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := a.Ready(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), acmeTestDomain) {
		t.Errorf("Ready before Run = %v, want the deadline, naming the domain", err)
	}
}

func TestNewACMERejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	good := ACMEConfig{Domain: acmeTestDomain, Directory: "https://acme.test/dir", Email: "ops@foobar.test", StorageDir: dir}
	for _, c := range []struct {
		name string
		edit func(*ACMEConfig)
		want string
	}{
		{"no domain", func(c *ACMEConfig) { c.Domain = "" }, "not a DNS name"},
		{"an IP as domain", func(c *ACMEConfig) { c.Domain = "127.0.0.1" }, "not a DNS name"},
		{"plain http directory", func(c *ACMEConfig) { c.Directory = "http://acme.test/dir" }, "not an https URL"},
		{"no email", func(c *ACMEConfig) { c.Email = "" }, "email is required"},
		{"no storage", func(c *ACMEConfig) { c.StorageDir = "" }, "no storage directory"},
		{"missing CA file", func(c *ACMEConfig) { c.CAFile = filepath.Join(dir, "missing.pem") }, "no such file"},
		{"CA file without PEM", func(c *ACMEConfig) { c.CAFile = notPEM }, "holds no PEM certificate"},
	} {
		cfg := good
		c.edit(&cfg)
		if _, err := NewACME(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

// readyWithin is Ready with a deadline.
func readyWithin(a *ACMECertificate, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return a.Ready(ctx)
}

// runACME runs a until the test ends or stop is called; stop reports what
// Run returned and fails the test if Run ignores its context.
func runACME(t *testing.T, a *ACMECertificate) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after its context ended")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// site is the load balancer's side of ACME: an HTTP listener that answers
// HTTP-01 and redirects the rest, and an HTTPS listener whose certificate
// and ALPN come from the ACMECertificate in use.
type site struct {
	httpLn, httpsLn net.Listener
	cur             atomic.Pointer[ACMECertificate]
	http01          atomic.Int32 // HTTP-01 validation requests
	tlsALPN01       atomic.Int32 // TLS-ALPN-01 validation handshakes
}

// listenSite opens the site's listeners, so their ports can be given to
// Pebble before anything is served.
func listenSite(t *testing.T) *site {
	s := &site{}
	var err error
	if s.httpLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if s.httpsLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.httpLn.Close()
		s.httpsLn.Close()
	})
	return s
}

// serve starts serving with a, wired as the load balancer wires it.
func (s *site) serve(t *testing.T, a *ACMECertificate) {
	s.use(a)
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
	plain := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			s.http01.Add(1)
		}
		s.cur.Load().HTTPChallengeHandler(redirect).ServeHTTP(w, r)
	})}
	secure := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }),
		TLSConfig: &tls.Config{
			GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
				if slices.Equal(hello.SupportedProtos, []string{"acme-tls/1"}) {
					s.tlsALPN01.Add(1)
				}
				return s.cur.Load().GetCertificate(hello)
			},
			NextProtos: append([]string{"h2", "http/1.1"}, a.NextProtos()...),
		},
		ErrorLog: log.New(io.Discard, "", 0), // the CA's validation handshakes end abruptly by design
	}
	go plain.Serve(s.httpLn)
	go secure.ServeTLS(s.httpsLn, "", "")
	t.Cleanup(func() {
		plain.Close()
		secure.Close()
	})
}

func (s *site) use(a *ACMECertificate) { s.cur.Store(a) }
func (s *site) httpPort() int          { return s.httpLn.Addr().(*net.TCPAddr).Port }
func (s *site) httpsPort() int         { return s.httpsLn.Addr().(*net.TCPAddr).Port }

// handshake connects as a browser that trusts only roots would, and
// returns the verified leaf.
func (s *site) handshake(t *testing.T, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", s.httpsLn.Addr().String(), &tls.Config{ServerName: acmeTestDomain, RootCAs: roots})
	if err != nil {
		t.Fatalf("handshake for %s: %v", acmeTestDomain, err)
	}
	defer conn.Close()
	state := conn.ConnectionState()
	leaf := state.PeerCertificates[0]
	if !slices.Equal(leaf.DNSNames, []string{acmeTestDomain}) {
		t.Errorf("leaf names %q, want [%s]", leaf.DNSNames, acmeTestDomain)
	}
	if len(state.VerifiedChains) == 0 || len(state.VerifiedChains[0]) < 3 {
		t.Errorf("verified chains %v, want leaf, Pebble intermediate and root", state.VerifiedChains)
	}
	return leaf
}

// pebble is an in-process Pebble with real validation: its VA resolves
// names with the given DNS server and connects to the given ports.
type pebble struct {
	directory string
	caFile    string         // the root of Pebble's own HTTPS certificate
	roots     *x509.CertPool // Pebble's issuing root
	orders    atomic.Int32   // new-order requests
}

func startPebble(t *testing.T, logger slog.Handler, dnsAddr string, httpPort, httpsPort int) *pebble {
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")      // validate at once, not after up to 5s
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0") // no deliberately rejected nonces
	t.Setenv("PEBBLE_AUTHZREUSE", "0")      // every order validates
	plog := slog.NewLogLogger(logger, slog.LevelDebug)
	plog.SetPrefix("pebble ")
	store := db.NewMemoryStore()
	issuer := ca.New(plog, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	// Pebble's VA keeps one idle goroutine per instance: it has no Close.
	validator := va.New(plog, httpPort, httpsPort, false, dnsAddr, store)
	front := wfe.New(plog, store, validator, issuer, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	tlsCA, err := OpenCA(t.TempDir(), "pebble")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tlsCA.Issue(Leaf{File: "pebble", Usage: ServerAuth, Subject: "pebble", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	p := &pebble{caFile: tlsCA.CertPath, roots: x509.NewCertPool()}
	p.roots.AddCert(issuer.GetRootCert(0).Cert)
	handler := front.Handler()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/order-plz" {
			p.orders.Add(1)
		}
		handler.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = plog
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p.directory = srv.URL + wfe.DirectoryPath
	return p
}

// startDNS answers A queries for name with ip, and every other query with
// an empty answer (so Pebble's CAA lookups find no records). It serves TCP,
// which Pebble's VA uses, and UDP on the same port.
func startDNS(t *testing.T, name string, ip net.IP) string {
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, question := range q.Question {
			if question.Qtype == dns.TypeA && strings.EqualFold(question.Name, dns.Fqdn(name)) {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   ip,
				})
			}
		}
		w.WriteMsg(m)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	for _, srv := range []*dns.Server{{Listener: ln, Handler: handler}, {PacketConn: pc, Handler: handler}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return addr
}

// testLogger collects certmagic's and Pebble's logs and shows them only when
// the test fails. It outlives the test safely: late lines are just kept.
func testLogger(t *testing.T) slog.Handler {
	buf := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", buf.String())
		}
	})
	return slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
