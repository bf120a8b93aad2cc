package serve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// engines names the HTTP/1 implementations the tests compare: the first is
// the reference; the own loop runs once with a goroutine per connection and
// once as tasks on event loops, both reusing requests (ReuseRequests) as
// the lb has them do.
var engines = [...]struct {
	name  string
	own   bool
	loops int
}{{"net/http", false, 0}, {"own", true, 0}, {"own on loops", true, 2}}

var (
	testCertOnce sync.Once
	testCert     tls.Certificate
	testPool     *x509.CertPool
)

// testTLS returns a fresh server config with a self-signed ECDSA certificate
// for 127.0.0.1 and localhost offering h2 and http/1.1, and the pool that
// trusts it.
func testTLS(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	var err error
	testCertOnce.Do(func() {
		var key *ecdsa.PrivateKey
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "serve test"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true,
			IsCA:                  true,
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:              []string{"localhost"},
		}
		var der []byte
		der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return
		}
		var leaf *x509.Certificate
		leaf, err = x509.ParseCertificate(der)
		if err != nil {
			return
		}
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		testPool = x509.NewCertPool()
		testPool.AddCert(leaf)
	})
	if err != nil || testPool == nil {
		t.Fatalf("test certificate: %v", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{testCert}, NextProtos: []string{"h2", "http/1.1"}}, testPool
}

// clientTLS is what an HTTP/1.1-only client offers.
func clientTLS(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}
}

// testServer is one serve.Run on a loopback listener.
type testServer struct {
	addr   string
	tls    *tls.Config // client side; nil for plain HTTP
	cancel context.CancelFunc
	done   chan error
}

// startServer runs h with o on 127.0.0.1:0 until the test ends. withTLS
// gives it the test certificate.
func startServer(t *testing.T, h http.Handler, o Options, withTLS bool) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{addr: ln.Addr().String(), done: make(chan error, 1)}
	if withTLS {
		cfg, pool := testTLS(t)
		o.TLS = cfg
		s.tls = clientTLS(pool)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- Run(ctx, ln, h, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Errorf("serve.Run on %s did not return after its context ended", s.addr)
		}
	})
	return s
}

// dial opens a client connection, TLS with ALPN http/1.1 when the server
// speaks TLS, with the handshake done.
func (s *testServer) dial(t testing.TB) net.Conn {
	t.Helper()
	c, err := s.dialErr()
	if err != nil {
		t.Fatalf("dial %s: %v", s.addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *testServer) dialErr() (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if s.tls == nil {
		return d.Dial("tcp", s.addr)
	}
	c, err := tls.DialWithDialer(d, "tcp", s.addr, s.tls)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// response is what a client can observe of one response, Date aside.
type response struct {
	Proto         string
	Status        int
	Header        http.Header
	ContentLength int64
	Chunked       bool
	Close         bool
	Body          []byte
	BodyErr       string
	Trailer       http.Header
}

// exchange is what a client observed on one connection after writing a raw
// request.
type exchange struct {
	Responses []response
	// End is how the connection ended: "closed" (EOF), "reset", "open" (the
	// server neither closed nor sent more before the deadline), or a parse
	// error with the bytes that could not be parsed.
	End string
	// Raw is the first bytes the server sent, for failure messages only.
	Raw []byte
}

// roundTrip writes raw to a new connection to s in one Write and reads
// responses until the server closes the connection or wait passes. methods
// gives the request method of each response in turn (default GET), which
// the client needs to know whether a response has a body.
func (s *testServer) roundTrip(raw string, methods []string, wait time.Duration) exchange {
	c, err := s.dialErr()
	if err != nil {
		return exchange{End: "dial: " + err.Error()}
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	// Large bodies may not fit in the socket buffers of a server that does
	// not read them, so write on another goroutine, as a real client would.
	go c.Write([]byte(raw))
	return readExchange(c, methods)
}

// readExchange reads responses from c until it ends or its deadline passes.
func readExchange(c net.Conn, methods []string) exchange {
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &limitedWriter{&raw, 600}))
	var ex exchange
	for i := 0; ; i++ {
		if _, err := br.Peek(1); err != nil {
			ex.End = endOf(err)
			break
		}
		method := http.MethodGet
		if i < len(methods) {
			method = methods[i]
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			rest, _ := io.ReadAll(br)
			ex.End = fmt.Sprintf("unparsable response (%v): %q", err, rest)
			break
		}
		body, err := io.ReadAll(resp.Body)
		r := response{
			Proto:         resp.Proto,
			Status:        resp.StatusCode,
			Header:        resp.Header,
			ContentLength: resp.ContentLength,
			Chunked:       len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked",
			Close:         resp.Close,
			Body:          body,
			Trailer:       resp.Trailer,
		}
		r.Header.Del("Date")
		if err != nil {
			r.BodyErr = endOf(err)
		}
		ex.Responses = append(ex.Responses, r)
	}
	ex.Raw = raw.Bytes()
	return ex
}

// endOf names how a read ended.
func endOf(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return "closed"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "open"
	}
	return "error: " + err.Error()
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	b *bytes.Buffer
	n int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if room := w.n - w.b.Len(); room > 0 {
		w.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// String renders an exchange deterministically so two can be compared and
// their difference read.
func (ex exchange) String() string {
	var b strings.Builder
	for i, r := range ex.Responses {
		fmt.Fprintf(&b, "response %d: %s %d chunked=%v close=%v content-length=%d\n", i, r.Proto, r.Status, r.Chunked, r.Close, r.ContentLength)
		writeHeader(&b, "  header ", r.Header)
		writeHeader(&b, "  trailer ", r.Trailer)
		fmt.Fprintf(&b, "  body %s", showBody(r.Body))
		if r.BodyErr != "" {
			fmt.Fprintf(&b, " (body read: %s)", r.BodyErr)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "connection: %s\n", ex.End)
	return b.String()
}

func writeHeader(b *strings.Builder, prefix string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "%s%s: %q\n", prefix, k, h[k])
	}
}

func showBody(p []byte) string {
	if len(p) <= 80 {
		return fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf("%d bytes %q... sha256 %x", len(p), p[:32], sha256.Sum256(p))
}
