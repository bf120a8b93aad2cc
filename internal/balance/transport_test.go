package balance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLocalAddrIsTheSourceOfEveryConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2 on this system: %v", err)
	}
	ln.Close()

	var mu sync.Mutex
	sources := map[string]bool{}
	u := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		sources[r.URL.Path+" from "+host] = true
		mu.Unlock()
	})
	p := newPool(t, Config{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}, u.Listener.Addr().String())
	srv, client := front(t, p)
	get(t, client, srv.URL+"/page")
	p.checks[0].checkOnce(context.Background())

	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"/page from 127.0.0.2", "/healthz from 127.0.0.2"} {
		if !sources[want] {
			t.Errorf("upstream never saw %q; it saw %v", want, sources)
		}
	}
}

func TestLocalAddrWithPortIsRejected(t *testing.T) {
	_, err := New(Config{
		Upstreams: []Upstream{{Addr: "127.0.0.1:80"}},
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 4000},
	})
	if err == nil {
		t.Fatal("a fixed source port was accepted; only the first connection could use it")
	}
}

func TestTransportDefaults(t *testing.T) {
	p := newPool(t, Config{}, "127.0.0.1:1")
	tr := p.transport
	if tr.MaxIdleConnsPerHost != 256 {
		t.Errorf("MaxIdleConnsPerHost = %d, want 256", tr.MaxIdleConnsPerHost)
	}
	if tr.ForceAttemptHTTP2 || tr.Protocols.HTTP2() || !tr.Protocols.HTTP1() {
		t.Errorf("protocols %v, force h2 %v: want HTTP/1.1 only", tr.Protocols, tr.ForceAttemptHTTP2)
	}
	if tr.ResponseHeaderTimeout == 0 || tr.TLSHandshakeTimeout == 0 || tr.IdleConnTimeout == 0 {
		t.Errorf("transport lacks a timeout: %+v", tr)
	}
	b := p.buffers.Get()
	if len(b) != 32<<10 {
		t.Errorf("proxy buffer is %d bytes, want 32 KiB", len(b))
	}
	p.buffers.Put(b)
}

// TestKeepAliveConnectionsSurviveABurst sends two bursts of 50 concurrent
// requests. With Go's default of 2 idle connections per host, the second
// burst would dial 48 new ones; the pool's default keeps all 50.
func TestKeepAliveConnectionsSurviveABurst(t *testing.T) {
	const burst = 50
	var newConns, waiting atomic.Int64
	var mu sync.Mutex
	gate := make(chan struct{})
	u := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		g := gate
		mu.Unlock()
		waiting.Add(1)
		<-g
	}))
	u.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	p := newPool(t, Config{}, u.Listener.Addr().String())

	run := func() int64 {
		before := newConns.Load()
		waiting.Store(0)
		var wg sync.WaitGroup
		for range burst {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				if rec.Code != http.StatusOK {
					t.Errorf("status %d", rec.Code)
				}
			})
		}
		eventually(t, "the whole burst is in flight", func() bool { return waiting.Load() == burst })
		mu.Lock()
		close(gate)
		gate = make(chan struct{})
		mu.Unlock()
		wg.Wait()
		return newConns.Load() - before
	}
	if n := run(); n != burst {
		t.Fatalf("first burst opened %d connections, want %d", n, burst)
	}
	time.Sleep(50 * time.Millisecond) // let the transport park the connections
	if n := run(); n != 0 {
		t.Fatalf("second burst opened %d new connections; idle ones were not kept", n)
	}
}

// selfSigned returns a fresh ECDSA P-256 certificate for cn.
func selfSigned(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestTLSUpstreamGetsClientCertificateAndIsVerified(t *testing.T) {
	var seen atomic.Value
	u := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			seen.Store(r.URL.Path + " by " + r.TLS.PeerCertificates[0].Subject.CommonName)
		}
	}))
	u.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	u.Config.ErrorLog = log.New(io.Discard, "", 0) // the failing cases log handshake errors
	u.StartTLS()
	t.Cleanup(u.Close)
	roots := x509.NewCertPool()
	roots.AddCert(u.Certificate())
	addr := u.Listener.Addr().String() // 127.0.0.1, an IP SAN of the test certificate
	clientCert := selfSigned(t, "web-1")

	for _, tc := range []struct {
		name string
		tls  *tls.Config
		want int
	}{
		{"upstream host is the server name", &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}}, http.StatusOK},
		{"ServerName overrides the host", &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}, ServerName: "example.com"}, http.StatusOK},
		{"a name the certificate lacks fails", &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}, ServerName: "evil.test"}, http.StatusBadGateway},
		{"an untrusted certificate fails", &tls.Config{Certificates: []tls.Certificate{clientCert}}, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen.Store("")
			p := newPool(t, Config{TLS: tc.tls}, addr)
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, httptest.NewRequest("GET", "/page", nil))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.want, rec.Body)
			}
			if tc.want != http.StatusOK {
				return
			}
			if got := seen.Load(); got != "/page by web-1" {
				t.Fatalf("upstream saw %q, want the page requested with the client certificate", got)
			}
			p.checks[0].checkOnce(context.Background())
			if got := seen.Load(); got != "/healthz by web-1" {
				t.Fatalf("health check: upstream saw %q, want it over mTLS too", got)
			}
		})
	}
}
