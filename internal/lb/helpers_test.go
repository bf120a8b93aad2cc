package lb

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/balance"
	"github.com/rampart-dev/rampart/internal/rawio"
)

// testCA is a throwaway ECDSA P-256 certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rampart test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

var serial struct {
	sync.Mutex
	n int64
}

// issue signs a leaf certificate: a server one for 127.0.0.1 when server is
// true, else a client one.
func (ca *testCA) issue(t *testing.T, cn string, server bool) tls.Certificate {
	t.Helper()
	serial.Lock()
	serial.n++
	sn := serial.n + 1
	serial.Unlock()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"rampart"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{cn}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// site is a running lb in front of one backend that records requests.
type site struct {
	lb        *LB
	ca        *testCA
	httpsAddr string
	plainAddr string
	cancel    context.CancelFunc
	done      chan error

	mu   sync.Mutex
	last *http.Request // the last request the backend saw
}

// lastRequest returns the last request the backend saw.
func (s *site) lastRequest() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// testLoops is the EventLoops every startSite lb runs with: TestMain runs
// the package's tests once with goroutines (0) and once on event loops.
var testLoops int

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		testLoops = 2
		code = m.Run()
	}
	os.Exit(code)
}

// startSite runs an lb with cfg (Name, TLS and Pool filled in when empty)
// over a backend; backend nil answers 200 "ok".
func startSite(t *testing.T, cfg Config, backend http.HandlerFunc) *site {
	t.Helper()
	s := &site{ca: newTestCA(t), done: make(chan error, 1)}
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.last = r.Clone(context.Background())
		s.mu.Unlock()
		if backend != nil {
			backend(w, r)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(be.Close)

	quiet := slog.New(slog.DiscardHandler)
	if cfg.Pool == nil {
		pool, err := balance.New(balance.Config{Upstreams: []balance.Upstream{{Name: "web-1", Addr: be.Listener.Addr().String()}}, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.CloseIdleConnections)
		cfg.Pool = pool
	}
	if cfg.Name == "" {
		cfg.Name = "lb-1"
	}
	if cfg.TLS == nil {
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{s.ca.issue(t, "site.test", true)}}
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if cfg.EventLoops == 0 {
		cfg.EventLoops = testLoops
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.lb = l
	https, plain := listen(t), listen(t)
	if cfg.EventLoops > 0 {
		https = rawio.LoopListener(https) // as a node's lb on loops would
	}
	s.httpsAddr, s.plainAddr = https.Addr().String(), plain.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- l.Run(ctx, https, plain) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Error("lb did not stop")
		}
	})
	return s
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// clientTLS returns a client config trusting the test CA.
func (s *site) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.ca.pool, ServerName: "site.test"}
}

// client returns an HTTPS client for the site; h2 selects HTTP/2.
func (s *site) client(t *testing.T, cfg *tls.Config, h2 bool) *http.Client {
	t.Helper()
	if cfg == nil {
		cfg = s.clientTLS()
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: h2}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (s *site) url(path string) string { return "https://" + s.httpsAddr + path }
