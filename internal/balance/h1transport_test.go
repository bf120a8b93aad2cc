package balance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countedServer is a real loopback upstream that counts the TCP
// connections it accepted.
type countedServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newCountedServer(t *testing.T, h http.HandlerFunc, setup func(*httptest.Server)) *countedServer {
	t.Helper()
	s := &countedServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if setup != nil {
		setup(s.Server)
	}
	if s.TLS != nil {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *countedServer) addr() string { return s.Listener.Addr().String() }

// exchange is one request through the pool and what should come back.
type exchange struct {
	method, path string
	body         string
	chunkedBody  bool // send body with an unknown length
	wantStatus   int
	wantBody     string
	wantTrailer  string
}

// do sends ex through the front server and checks the answer.
func (ex exchange) do(t *testing.T, client *http.Client, base string) {
	t.Helper()
	var body io.Reader
	if ex.body != "" {
		body = strings.NewReader(ex.body)
		if ex.chunkedBody {
			body = io.MultiReader(body) // hides the length
		}
	}
	method := ex.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, base+ex.path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, ex.path, err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, ex.path, err)
	}
	want := ex.wantStatus
	if want == 0 {
		want = http.StatusOK
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d (%s)", method, ex.path, resp.StatusCode, want, got)
	}
	if string(got) != ex.wantBody {
		t.Fatalf("%s %s: body %q, want %q", method, ex.path, abbrev(string(got)), abbrev(ex.wantBody))
	}
	if ex.wantTrailer != "" && resp.Trailer.Get("X-Sum") != ex.wantTrailer {
		t.Fatalf("%s %s: trailer X-Sum %q, want %q", method, ex.path, resp.Trailer.Get("X-Sum"), ex.wantTrailer)
	}
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:40] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// upstreamHandler answers the paths the table below asks for.
func upstreamHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/small":
		io.WriteString(w, "hello")
	case "/chunked":
		w.Header().Set("Trailer", "X-Sum")
		for i := range 5 {
			fmt.Fprintf(w, "part%d;", i)
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Sum", "5 parts")
	case "/large":
		w.Write(largeBody)
	case "/nocontent":
		w.WriteHeader(http.StatusNoContent)
	case "/notmodified":
		w.WriteHeader(http.StatusNotModified)
	case "/head":
		w.Header().Set("Content-Length", "1234")
	case "/echo":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s %d %x", r.Method, len(b), sha256.Sum256(b))
	case "/method":
		io.WriteString(w, r.Method+" "+r.Header.Get("Content-Length"))
	case "/early":
		// Answers without reading the body.
		w.Header().Set("Connection", "close")
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	case "/hints":
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "after hints")
	case "/close":
		w.Header().Set("Connection", "close")
		io.WriteString(w, "closing")
	case "/unsized":
		// HTTP/1.0-style: no length, the body ends when the connection does.
		hj, _ := w.(http.Hijacker)
		c, buf, err := hj.Hijack()
		if err != nil {
			return
		}
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close")
		buf.Flush()
		c.Close()
	default:
		http.NotFound(w, r)
	}
}

var largeBody = bytes.Repeat([]byte("0123456789abcdef"), (4<<20)/16) // 4 MiB

func sum(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

// TestH1TransportExchanges sends each kind of request and response through a
// pool in front of a real upstream, twice in a row, and checks the answer,
// that the pool's own HTTP/1.1 path carried it, and whether the connection
// was reused.
func TestH1TransportExchanges(t *testing.T) {
	bigUpload := strings.Repeat("x", 3<<20)
	for _, tc := range []struct {
		name      string
		ex        exchange
		wantConns int64 // upstream connections for the two exchanges
	}{
		{"small body over keep-alive", exchange{path: "/small", wantBody: "hello"}, 1},
		{"chunked body with a trailer", exchange{path: "/chunked", wantBody: "part0;part1;part2;part3;part4;", wantTrailer: "5 parts"}, 1},
		{"large body", exchange{path: "/large", wantBody: string(largeBody)}, 1},
		{"HEAD has no body", exchange{method: http.MethodHead, path: "/head"}, 1},
		{"204 has no body", exchange{path: "/nocontent", wantStatus: http.StatusNoContent}, 1},
		{"304 has no body", exchange{path: "/notmodified", wantStatus: http.StatusNotModified}, 1},
		{"request body with a length", exchange{method: http.MethodPost, path: "/echo", body: "payload",
			wantBody: "POST 7 " + sum([]byte("payload"))}, 1},
		{"large request body with a length", exchange{method: http.MethodPut, path: "/echo", body: bigUpload,
			wantBody: "PUT 3145728 " + sum([]byte(bigUpload))}, 1},
		{"streamed request body", exchange{method: http.MethodPost, path: "/echo", body: bigUpload, chunkedBody: true,
			wantBody: "POST 3145728 " + sum([]byte(bigUpload))}, 1},
		{"bodiless POST says Content-Length 0", exchange{method: http.MethodPost, path: "/method", wantBody: "POST 0"}, 1},
		{"1xx before the response", exchange{path: "/hints", wantBody: "after hints"}, 1},
		{"Connection: close is not reused", exchange{path: "/close", wantBody: "closing"}, 2},
		{"body ended by close", exchange{path: "/unsized", wantBody: "until close"}, 2},
		{"404 is an answer", exchange{path: "/missing", wantStatus: http.StatusNotFound, wantBody: "404 page not found\n"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newCountedServer(t, upstreamHandler, nil)
			p := newPool(t, Config{}, u.addr())
			srv, client := front(t, p)
			tc.ex.do(t, client, srv.URL)
			tc.ex.do(t, client, srv.URL)
			if n := u.conns.Load(); n != tc.wantConns {
				t.Errorf("upstream accepted %d connections for two exchanges, want %d", n, tc.wantConns)
			}
			want := 1
			if tc.wantConns > 1 {
				want = 0
			}
			if n := p.transport.h1.idleCount(u.addr()); n != want {
				t.Errorf("%d idle connections after the exchanges, want %d", n, want)
			}
			if st := p.Status()[0]; st.Failures != 0 || st.InFlight != 0 {
				t.Errorf("upstream status %+v, want no failures and nothing in flight", st)
			}
		})
	}
}

// TestH1TransportCarriesOrdinaryRequests makes sure the table above tested
// the pool's own path, and that what it leaves out goes to net/http.
func TestH1TransportCarriesOrdinaryRequests(t *testing.T) {
	h1 := newH1Transport(&net.Dialer{}, nil, time.Second, 4)
	get := func(mut func(r *http.Request)) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:1/x", nil)
		r.RequestURI = ""
		if mut != nil {
			mut(r)
		}
		return r
	}
	for _, tc := range []struct {
		name string
		req  *http.Request
		want bool
	}{
		{"GET", get(nil), true},
		{"POST with a body", httptest.NewRequest(http.MethodPost, "http://127.0.0.1:1/x", strings.NewReader("b")), true},
		{"https", get(func(r *http.Request) { r.URL.Scheme = "https" }), true},
		{"upgrade", get(func(r *http.Request) { r.Header.Set("Connection", "Upgrade"); r.Header.Set("Upgrade", "websocket") }), false},
		{"100-continue", get(func(r *http.Request) { r.Header.Set("Expect", "100-continue") }), false},
		{"request trailer", get(func(r *http.Request) { r.Trailer = http.Header{"X": nil} }), false},
		{"non-ASCII host", get(func(r *http.Request) { r.Host = "bücher.example" }), false},
		{"other scheme", get(func(r *http.Request) { r.URL.Scheme = "ftp" }), false},
		{"no host", get(func(r *http.Request) { r.URL.Host = "" }), false},
	} {
		if got := h1.handles(tc.req); got != tc.want {
			t.Errorf("%s: handles = %v, want %v", tc.name, got, tc.want)
		}
	}
	if p := newPool(t, Config{StdlibTransport: true}, "127.0.0.1:1"); p.transport.h1 != nil {
		t.Error("StdlibTransport still built the pool's own path")
	}
	if p := newPool(t, Config{}, "127.0.0.1:1"); p.transport.h1 == nil {
		t.Error("the pool's own path is off by default")
	}
}

// TestH1TransportSurvivesUpstreamClosingIdleConnections lets the upstream
// close its idle keep-alive connections, as any server does after its idle
// timeout, and checks that no request fails because of it: a GET goes
// again on a new connection, a POST finds the closed connection before
// sending.
func TestH1TransportSurvivesUpstreamClosingIdleConnections(t *testing.T) {
	for _, tc := range []struct {
		name string
		ex   exchange
	}{
		{"GET", exchange{path: "/small", wantBody: "hello"}},
		{"POST without a body", exchange{method: http.MethodPost, path: "/method", wantBody: "POST 0"}},
		{"POST with a body", exchange{method: http.MethodPost, path: "/echo", body: "once", wantBody: "POST 4 " + sum([]byte("once"))}},
		{"streamed POST", exchange{method: http.MethodPost, path: "/echo", body: "once", chunkedBody: true, wantBody: "POST 4 " + sum([]byte("once"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var served atomic.Int64
			u := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
				upstreamHandler(w, r)
			}, func(s *httptest.Server) { s.Config.IdleTimeout = 50 * time.Millisecond })
			p := newPool(t, Config{Retries: -1}, u.addr()) // no retry on another upstream to hide a failure
			srv, client := front(t, p)
			for i := range 3 {
				start := time.Now()
				tc.ex.do(t, client, srv.URL)
				// A GET's head waits for the first read of the answer
				// (rawio.Conn.DeferWritesToRead): the closed connection
				// must show at once, by its reset, not at the header
				// timeout.
				if d := time.Since(start); d > time.Second {
					t.Errorf("request %d took %v on a connection the upstream had closed", i, d)
				}
				if i < 2 {
					time.Sleep(150 * time.Millisecond) // the upstream closes the idle connection
				}
			}
			if n := u.conns.Load(); n != 3 {
				t.Errorf("upstream accepted %d connections, want 3 (one per request after each idle close)", n)
			}
			if n := served.Load(); n != 3 {
				t.Errorf("upstream served %d requests, want 3: none twice", n)
			}
			if st := p.Status()[0]; st.Failures != 0 || st.Ejected {
				t.Errorf("upstream status %+v: a closed idle connection counted against it", st)
			}
		})
	}
}

// TestH1TransportStaleConnectionMidBurst closes every idle connection from
// the upstream's side at once (a restart, say) while a pool holds many, and
// checks the next burst of GETs all succeed.
func TestH1TransportStaleConnectionMidBurst(t *testing.T) {
	u := newCountedServer(t, upstreamHandler, nil)
	p := newPool(t, Config{Retries: -1}, u.addr())
	srv, client := front(t, p)
	burst := func() {
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() { exchange{path: "/small", wantBody: "hello"}.do(t, client, srv.URL) })
		}
		wg.Wait()
	}
	burst()
	if p.transport.h1.idleCount(u.addr()) == 0 {
		t.Fatal("no idle connections after a burst")
	}
	u.CloseClientConnections()
	time.Sleep(20 * time.Millisecond)
	burst()
	if st := p.Status()[0]; st.Failures != 0 {
		t.Errorf("upstream status %+v: closed idle connections failed requests", st)
	}
}

func TestH1TransportResponseHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	u := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	}, nil)
	defer close(release)
	p := newPool(t, Config{ResponseHeaderTimeout: 100 * time.Millisecond, Retries: -1}, u.addr())

	start := time.Now()
	req := httptest.NewRequest(http.MethodGet, "http://"+u.addr()+"/slow", nil)
	req.RequestURI = ""
	_, err := p.transport.RoundTrip(req)
	if err == nil || !strings.Contains(err.Error(), "no response headers within 100ms") {
		t.Fatalf("slow upstream: err %v, want a header timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout took %v", d)
	}

	// The timeout covers only the wait for headers: a body that takes
	// longer than it still arrives.
	slowBody := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4")
		io.WriteString(w, "ab")
		w.(http.Flusher).Flush()
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "cd")
	}, nil)
	p2 := newPool(t, Config{ResponseHeaderTimeout: 100 * time.Millisecond}, slowBody.addr())
	srv, client := front(t, p2)
	exchange{path: "/", wantBody: "abcd"}.do(t, client, srv.URL)
	// A request body slower than the timeout is not cut either: the wait
	// starts once the request is sent.
	srv3, client3 := front(t, newPool(t, Config{ResponseHeaderTimeout: 100 * time.Millisecond}, newCountedServer(t, upstreamHandler, nil).addr()))
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("slow"))
		time.Sleep(300 * time.Millisecond)
		pw.Write([]byte("body"))
		pw.Close()
	}()
	resp, err := client3.Post(srv3.URL+"/echo", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "POST 8 " + sum([]byte("slowbody")); string(b) != want {
		t.Fatalf("slow request body: got %q (status %d), want %q", b, resp.StatusCode, want)
	}
}

func TestH1TransportEarlyResponseDropsTheConnection(t *testing.T) {
	u := newCountedServer(t, upstreamHandler, nil)
	p := newPool(t, Config{}, u.addr())
	srv, client := front(t, p)
	for range 2 {
		exchange{method: http.MethodPost, path: "/early", body: strings.Repeat("y", 8<<20),
			wantStatus: http.StatusRequestEntityTooLarge, wantBody: "too large\n"}.do(t, client, srv.URL)
	}
	if n := p.transport.h1.idleCount(u.addr()); n != 0 {
		t.Errorf("%d idle connections kept after answers that did not take the body", n)
	}
	exchange{path: "/small", wantBody: "hello"}.do(t, client, srv.URL)
}

// TestH1TransportAnswerBeforeTheBodyIsSentKeepsNoConnection has an upstream
// answer at once without reading the request body or closing: the
// connection must not go back to the pool while the body is still being
// written to it.
func TestH1TransportAnswerBeforeTheBodyIsSentKeepsNoConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		time.Sleep(200 * time.Millisecond) // the body fills the socket buffers meanwhile
		io.Copy(io.Discard, br)
	})
	p := newPool(t, Config{Retries: -1}, ln.Addr().String())
	body := bytes.Repeat([]byte("z"), 16<<20)
	req := httptest.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/", bytes.NewReader(body))
	req.RequestURI = ""
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
		t.Fatalf("body %q", b)
	}
	resp.Body.Close()
	if n := p.transport.h1.idleCount(ln.Addr().String()); n != 0 {
		t.Fatalf("%d idle connections: one went back to the pool with a request body still being written", n)
	}
}

func TestH1TransportRejectsHeaderInjection(t *testing.T) {
	var smuggled atomic.Bool
	u := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Smuggled") != "" || r.URL.Path == "/admin" {
			smuggled.Store(true)
		}
	}, nil)
	for _, tc := range []struct {
		name    string
		rewrite func(*httputil.ProxyRequest)
	}{
		{"CRLF in a value", func(pr *httputil.ProxyRequest) { pr.Out.Header.Set("X-Note", "a\r\nX-Smuggled: 1") }},
		{"LF in a name", func(pr *httputil.ProxyRequest) { pr.Out.Header["X-A\nX-Smuggled"] = []string{"1"} }},
		{"CRLF in the query", func(pr *httputil.ProxyRequest) {
			pr.Out.URL.RawQuery = "a HTTP/1.1\r\nHost: x\r\n\r\nGET /admin"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smuggled.Store(false)
			p := newPool(t, Config{Rewrite: tc.rewrite}, u.addr())
			srv, client := front(t, p)
			code, _ := get(t, client, srv.URL+"/")
			if code != http.StatusBadGateway {
				t.Errorf("status %d, want 502", code)
			}
			if smuggled.Load() {
				t.Fatal("the upstream received the smuggled header or request")
			}
		})
	}
}

func TestH1TransportClientLeavingMidBodyClosesTheConnection(t *testing.T) {
	u := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		// Streamed (no length), so ReverseProxy flushes each part to the
		// client at once.
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // never ends the body: only a closed connection ends this
	}, nil)
	p := newPool(t, Config{}, u.addr())
	srv, _ := front(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/", nil)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	io.ReadFull(resp.Body, buf)
	cancel()
	resp.Body.Close()
	eventually(t, "the abandoned request ends", func() bool { return p.Status()[0].InFlight == 0 })
	if n := p.transport.h1.idleCount(u.addr()); n != 0 {
		t.Errorf("%d idle connections: a half-read connection went back to the pool", n)
	}
	if st := p.Status()[0]; st.Failures != 0 || st.Ejected {
		t.Errorf("upstream status %+v: the client leaving counted against the upstream", st)
	}
}

func TestH1TransportLimitsResponseHeaders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Big: " + strings.Repeat("b", 1000) + "\r\n"
		for range 2000 {
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	}()
	p := newPool(t, Config{Retries: -1}, ln.Addr().String())
	req := httptest.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
	req.RequestURI = ""
	_, err = p.transport.RoundTrip(req)
	if !errors.Is(err, errResponseHeadersTooLarge) {
		t.Fatalf("2 MB of headers: err %v, want %v", err, errResponseHeadersTooLarge)
	}
}

func TestH1TransportIdleConnections(t *testing.T) {
	u := newCountedServer(t, upstreamHandler, nil)
	p := newPool(t, Config{MaxIdleConnsPerHost: 3}, u.addr())
	h1 := p.transport.h1
	h1.idleTimeout = 100 * time.Millisecond

	// Six at once need six connections; only three stay.
	var wg sync.WaitGroup
	var bodies []io.ReadCloser
	var mu sync.Mutex
	for range 6 {
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodGet, "http://"+u.addr()+"/small", nil)
			req.RequestURI = ""
			resp, err := p.transport.RoundTrip(req)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			bodies = append(bodies, resp.Body)
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, b := range bodies {
		io.ReadAll(b)
		b.Close()
	}
	if n := h1.idleCount(u.addr()); n != 3 {
		t.Fatalf("%d idle connections, want MaxIdleConnsPerHost 3", n)
	}
	// The sweep closes them once they have been idle for idleTimeout.
	eventually(t, "the idle connections are swept", func() bool { return h1.idleCount(u.addr()) == 0 })

	exchangeDirect(t, p, u.addr())
	if h1.idleCount(u.addr()) != 1 {
		t.Fatal("no idle connection after a request")
	}
	p.CloseIdleConnections()
	if n := h1.idleCount(u.addr()); n != 0 {
		t.Fatalf("CloseIdleConnections left %d", n)
	}
}

func exchangeDirect(t *testing.T, p *Pool, addr string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://"+addr+"/small", nil)
	req.RequestURI = ""
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
}

// TestH1TransportMutualTLS checks the reencrypt path: the client certificate
// reaches the upstream, the connection is kept alive, and a new connection
// resumes the TLS session rather than doing a full handshake.
func TestH1TransportMutualTLS(t *testing.T) {
	type seen struct {
		cn      string
		resumed bool
	}
	var mu sync.Mutex
	var log []seen
	u := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		s := seen{resumed: r.TLS.DidResume}
		if len(r.TLS.PeerCertificates) > 0 {
			s.cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
		upstreamHandler(w, r)
	}, func(s *httptest.Server) {
		s.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS13}
	})
	roots := x509.NewCertPool()
	roots.AddCert(u.Certificate())
	p := newPool(t, Config{TLS: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{selfSigned(t, "lb-1")}}}, u.addr())
	srv, client := front(t, p)
	exchange{path: "/small", wantBody: "hello"}.do(t, client, srv.URL)
	exchange{path: "/large", wantBody: string(largeBody)}.do(t, client, srv.URL)
	if n := u.conns.Load(); n != 1 {
		t.Fatalf("%d TLS connections for two requests, want 1", n)
	}
	p.CloseIdleConnections()
	exchange{path: "/small", wantBody: "hello"}.do(t, client, srv.URL)

	mu.Lock()
	defer mu.Unlock()
	want := []seen{{"lb-1", false}, {"lb-1", false}, {"lb-1", true}}
	if fmt.Sprint(log) != fmt.Sprint(want) {
		t.Fatalf("upstream saw %v, want %v (client certificate each time, the third on a resumed session)", log, want)
	}
}

// TestH1TransportHostAndHeaders checks what the upstream receives: the
// client's Host, the headers set by hooks, and no User-Agent when
// ReverseProxy asks for none.
func TestH1TransportHostAndHeaders(t *testing.T) {
	got := make(chan *http.Request, 1)
	u := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) { got <- r }, nil)
	p := newPool(t, Config{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.Out.Header.Add("X-Multi", "one")
		pr.Out.Header.Add("X-Multi", "two")
	}}, u.addr())
	srv, client := front(t, p)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/p%20a/th?q=1&r=%2F", nil)
	req.Host = "www.foobar.com"
	req.Header.Del("User-Agent")
	req.Header["User-Agent"] = nil
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := <-got
	if r.Host != "www.foobar.com" {
		t.Errorf("Host %q, want the client's", r.Host)
	}
	if r.RequestURI != "/p%20a/th?q=1&r=%2F" {
		t.Errorf("request URI %q, want it as the client sent it", r.RequestURI)
	}
	if v := r.Header.Values("X-Multi"); strings.Join(v, ",") != "one,two" {
		t.Errorf("X-Multi %q, want both values in order", v)
	}
	if _, ok := r.Header["User-Agent"]; ok {
		t.Errorf("User-Agent %q sent; the client sent none", r.Header.Get("User-Agent"))
	}
	if r.Proto != "HTTP/1.1" {
		t.Errorf("proto %s", r.Proto)
	}
}

// BenchmarkProxy measures the whole proxy path on loopback, client and
// upstream included, with each transport. Compare ns/op and allocs/op:
//
//	go test -run '^$' -bench Proxy -benchmem -cpu 2 ./internal/balance/
func BenchmarkProxy(b *testing.B) {
	body := bytes.Repeat([]byte("a"), 128)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	defer up.Close()
	for _, tc := range []struct {
		name string
		std  bool
	}{{"h1", false}, {"stdlib", true}} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := New(Config{Upstreams: []Upstream{{Addr: up.Listener.Addr().String()}}, StdlibTransport: tc.std, Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer p.CloseIdleConnections()
			srv := httptest.NewServer(p)
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(srv.URL)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}

// A connection keeps its header deadline between requests when it can, so
// the next request must never inherit one that is too early: an answer
// that comes within the timeout on a reused connection is not cut.
func TestH1TransportHeaderTimeoutOnAReusedConnection(t *testing.T) {
	u := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			time.Sleep(120 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	}, nil)
	p := newPool(t, Config{ResponseHeaderTimeout: 200 * time.Millisecond, Retries: -1}, u.addr())
	srv, client := front(t, p)
	for i := range 3 {
		exchange{path: "/fast", wantBody: "ok"}.do(t, client, srv.URL)
		time.Sleep(150 * time.Millisecond)
		// 270 ms after the first deadline was armed, 120 ms into this
		// request's own 200.
		exchange{path: "/late", wantBody: "ok"}.do(t, client, srv.URL)
		if n := u.conns.Load(); n != 1 {
			t.Fatalf("round %d: %d upstream connections, want the one reused", i, n)
		}
	}
}

// TestH1TransportHoldsRequestsOnlyOnBrieflyIdleConnections: a connection
// idle for maxIdleToHold or longer may have been closed by its upstream, so
// a request on it is not held for the read of its answer (its EOF is then
// seen at once); a new one or one idle briefly may be.
func TestH1TransportHoldsRequestsOnlyOnBrieflyIdleConnections(t *testing.T) {
	u := newCountedServer(t, upstreamHandler, nil)
	p := newPool(t, Config{Retries: -1}, u.addr())
	srv, client := front(t, p)
	exchange{path: "/small", wantBody: "hello"}.do(t, client, srv.URL)
	tr := p.transport.h1
	var hc *hostConns
	tr.mu.Lock()
	for k, h := range tr.hosts {
		if k.addr == u.addr() {
			hc = h
		}
	}
	if hc == nil || len(hc.idle) != 1 {
		tr.mu.Unlock()
		t.Fatal("want one idle connection after a request")
	}
	c := hc.idle[0]
	c.idleAt = mono() - int64(maxIdleToHold) - 1
	tr.mu.Unlock()
	if got := tr.popIdle(hc); got != c || got.briefIdle {
		t.Fatalf("a connection idle for over %v: briefIdle %v, want false", maxIdleToHold, got.briefIdle)
	}
	tr.putIdle(c)
	if got := tr.popIdle(hc); got != c || !got.briefIdle {
		t.Fatalf("a connection idle a moment: briefIdle %v, want true", got.briefIdle)
	}
	tr.putIdle(c)
}

// halfClosingUpstream answers one request per connection, then sends its
// FIN but keeps the socket open, reading and ignoring what comes: a
// connection closed by its upstream whose later bytes bring no reset, as
// when a firewall drops them. It returns the address and how many
// connections it accepted.
func halfClosingUpstream(t *testing.T) (string, *atomic.Int64) {
	return scriptedUpstream(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
	})
}

// TestH1TransportLongIdleConnectionIsNotHeld: a GET on a connection that
// sat idle for maxIdleToHold, which its upstream closed without a reset to
// come, finds the EOF at once and goes again on a new connection, instead
// of waiting for the header timeout with its head held for a read.
func TestH1TransportLongIdleConnectionIsNotHeld(t *testing.T) {
	addr, conns := halfClosingUpstream(t)
	p := newPool(t, Config{Retries: -1, ResponseHeaderTimeout: 10 * time.Second}, addr)
	srv, client := front(t, p)
	exchange{path: "/small", wantBody: "hello"}.do(t, client, srv.URL)
	time.Sleep(50 * time.Millisecond) // the FIN is in
	tr := p.transport.h1
	tr.mu.Lock()
	n := 0
	for k, hc := range tr.hosts {
		if k.addr == addr {
			for _, c := range hc.idle {
				c.idleAt = mono() - int64(maxIdleToHold) - 1
				n++
			}
		}
	}
	tr.mu.Unlock()
	if n == 0 {
		t.Fatal("no idle connection to age")
	}
	start := time.Now()
	exchange{path: "/small", wantBody: "hello"}.do(t, client, srv.URL)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the GET on a long-idle closed connection took %v", d)
	}
	if c := conns.Load(); c < 2 {
		t.Fatalf("upstream accepted %d connections, want a new one for the second GET", c)
	}
}
