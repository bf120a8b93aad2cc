package balance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seenRequest is what an upstream received, in a comparable form.
type seenRequest struct {
	method, uri, host string
	header            http.Header
	body              string
	trailer           http.Header
}

// TestDirectProxyMatchesReverseProxy sends the same requests through a pool
// on the direct path and a pool on httputil.ReverseProxy (StdlibTransport)
// and checks that the upstream and the client see the same thing.
func TestDirectProxyMatchesReverseProxy(t *testing.T) {
	var mu sync.Mutex
	var seen []seenRequest
	u := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.RequestURI, r.Host, r.Header.Clone(), string(b), r.Trailer.Clone()})
		mu.Unlock()
		h := w.Header()
		switch r.URL.Path {
		case "/hop":
			h.Set("Connection", "X-Private, close")
			h.Set("X-Private", "upstream only")
			h.Set("Keep-Alive", "timeout=5")
			h.Set("Proxy-Authenticate", "Basic")
			h.Add("X-Twice", "a")
			h.Add("X-Twice", "b")
			h.Set("Strict-Transport-Security", "max-age=1")
			io.WriteString(w, "hop")
		case "/trailers":
			h.Set("Trailer", "X-Announced")
			io.WriteString(w, "body")
			h.Set("X-Announced", "yes")
			h.Set(http.TrailerPrefix+"X-Unannounced", "also")
		case "/error":
			http.Error(w, "nope", http.StatusTeapot)
		default:
			io.WriteString(w, "default")
		}
	}, nil)
	hooks := Config{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Hook", "set")
			pr.Out.Header.Add("X-Client", "added")
		},
		ModifyResponse: func(r *http.Response) error {
			r.Header.Del("Strict-Transport-Security")
			if r.StatusCode == http.StatusTeapot {
				return fmt.Errorf("hook refuses %d", r.StatusCode)
			}
			return nil
		},
	}
	direct := newPool(t, hooks, u.addr())
	std := hooks
	std.StdlibTransport = true
	stdPool := newPool(t, std, u.addr())
	if _, ok := direct.proxy.(*directProxy); !ok {
		t.Fatalf("default pool proxies with %T, want the direct path", direct.proxy)
	}
	if _, ok := stdPool.proxy.(*httputil.ReverseProxy); !ok {
		t.Fatalf("StdlibTransport pool proxies with %T, want ReverseProxy", stdPool.proxy)
	}
	front := func(p *Pool) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Strict-Transport-Security", "max-age=99") // set by the front, as the lb does
			p.ServeHTTP(w, r)
		}))
		t.Cleanup(s.Close)
		return s
	}
	fronts := []*httptest.Server{front(stdPool), front(direct)}

	type result struct {
		req    seenRequest
		status int
		header http.Header
		body   string
		trail  http.Header
	}
	requests := []struct {
		name string
		raw  string // sent as is, so hop-by-hop headers survive the client
	}{
		{"plain GET", "GET /plain HTTP/1.1\r\nHost: www.foobar.com\r\nUser-Agent: ua/1\r\nAccept: */*\r\n\r\n"},
		{"no User-Agent", "GET / HTTP/1.1\r\nHost: www.foobar.com\r\n\r\n"},
		{"hop-by-hop both ways", "GET /hop?a=1&b=2 HTTP/1.1\r\nHost: www.foobar.com\r\nConnection: keep-alive, X-Secret\r\nX-Secret: client only\r\n" +
			"Keep-Alive: 300\r\nProxy-Authorization: Basic Zm9v\r\nProxy-Connection: keep-alive\r\nTE: trailers, deflate\r\n" +
			"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil\r\nForwarded: for=6.6.6.6\r\nX-Client: sent\r\n\r\n"},
		{"query the proxy cleans", "GET /q?a=1;b=2&c=%zz HTTP/1.1\r\nHost: www.foobar.com\r\n\r\n"},
		{"POST with a body", "POST /post HTTP/1.1\r\nHost: www.foobar.com\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"},
		{"chunked POST with a trailer", "POST /post HTTP/1.1\r\nHost: www.foobar.com\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n0\r\nX-T: v\r\n\r\n"},
		{"bodiless DELETE", "DELETE /thing HTTP/1.1\r\nHost: www.foobar.com\r\n\r\n"},
		{"response trailers", "GET /trailers HTTP/1.1\r\nHost: www.foobar.com\r\nTE: trailers\r\n\r\n"},
		{"ModifyResponse error", "GET /error HTTP/1.1\r\nHost: www.foobar.com\r\n\r\n"},
		{"HTTP/1.0 without Host", "GET /old HTTP/1.0\r\n\r\n"},
	}
	for _, tc := range requests {
		t.Run(tc.name, func(t *testing.T) {
			var results [2]result
			for i, f := range fronts {
				mu.Lock()
				seen = nil
				mu.Unlock()
				c, err := net.Dial("tcp", f.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				io.WriteString(c, tc.raw)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					c.Close()
					t.Fatalf("front %d: %v", i, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				c.Close()
				r := result{status: resp.StatusCode, header: resp.Header, body: string(b), trail: resp.Trailer}
				r.header.Del("Date")
				mu.Lock()
				if len(seen) == 1 {
					r.req = seen[0]
					// The front servers listen on different ports.
					r.req.host = strings.Replace(r.req.host, f.Listener.Addr().String(), "FRONT", 1)
					for _, k := range []string{"X-Forwarded-Host"} {
						for j, v := range r.req.header[k] {
							r.req.header[k][j] = strings.Replace(v, f.Listener.Addr().String(), "FRONT", 1)
						}
					}
				} else if len(seen) > 1 {
					t.Errorf("front %d: upstream saw %d requests", i, len(seen))
				}
				mu.Unlock()
				results[i] = r
			}
			if a, b := dump(results[0]), dump(results[1]); a != b {
				t.Errorf("ReverseProxy and the direct path differ:\nReverseProxy:\n%s\ndirect:\n%s", a, b)
			}
		})
	}
}

// dump renders a result; fmt prints maps in key order, so equal results
// print the same.
func dump(v any) string { return fmt.Sprintf("%+v", v) }

// TestDirectProxyStreamsAndAborts checks, on both paths, what the client
// sees of a streamed response, of informational responses and of a body
// the upstream cuts short.
func TestDirectProxyStreamsAndAborts(t *testing.T) {
	for _, std := range []bool{true, false} {
		name := "direct"
		if std {
			name = "ReverseProxy"
		}
		t.Run(name, func(t *testing.T) {
			received := make(chan struct{}, 1) // buffered: a failed run must not block the upstream
			u := newCountedServer(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/stream", "/events":
					if r.URL.Path == "/events" {
						w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
						w.Header().Set("Content-Length", "12") // a length, yet still flushed
					}
					io.WriteString(w, "first;")
					w.(http.Flusher).Flush()
					select {
					case <-received: // the client got "first;" before the body ended
					case <-time.After(5 * time.Second):
					}
					io.WriteString(w, "last;")
					if r.URL.Path == "/events" {
						io.WriteString(w, "!")
					}
				case "/hints":
					w.Header().Set("Link", "</a.css>; rel=preload")
					w.WriteHeader(http.StatusEarlyHints)
					io.WriteString(w, "final")
				case "/cut":
					w.Header().Set("Content-Length", "100")
					io.WriteString(w, "only ten b")
					w.(http.Flusher).Flush()
					panic(http.ErrAbortHandler) // closes the connection mid-body
				}
			}, nil)
			p := newPool(t, Config{StdlibTransport: std}, u.addr())
			srv, client := front(t, p)

			for _, path := range []string{"/stream", "/events"} {
				var resp *http.Response
				buf := make([]byte, len("first;"))
				done := make(chan error, 1)
				go func() {
					var err error
					if resp, err = client.Get(srv.URL + path); err == nil {
						_, err = io.ReadFull(resp.Body, buf)
					}
					done <- err
				}()
				select {
				case err := <-done:
					if err != nil || string(buf) != "first;" {
						t.Fatalf("%s: first part %q, %v", path, buf, err)
					}
				case <-time.After(3 * time.Second):
					t.Fatalf("%s: the first part was not flushed to the client while the upstream was still writing", path)
				}
				received <- struct{}{}
				rest, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.HasPrefix(string(rest), "last;") {
					t.Fatalf("%s: rest %q", path, rest)
				}
			}

			var hints []string
			trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				hints = append(hints, fmt.Sprint(code, " ", h.Get("Link")))
				return nil
			}}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, srv.URL+"/hints", nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "final" || strings.Join(hints, ";") != "103 </a.css>; rel=preload" {
				t.Fatalf("early hints: client saw %q then %q, want the 103 with its Link, then the body", hints, b)
			}

			resp, err = client.Get(srv.URL + "/cut")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err == nil {
				t.Fatal("a body the upstream cut short reached the client as complete")
			}
		})
	}
}

// rawUpstream answers every request on every connection with reply, then
// closes the connection.
func rawUpstream(t *testing.T, reply string) string {
	addr, _ := scriptedUpstream(t, func(c net.Conn) { io.WriteString(c, reply) })
	return addr
}

// scriptedUpstream reads one request head on each connection it accepts,
// runs answer, then closes the connection; the test's cleanup closes those
// still open. It returns the address and how many connections it accepted.
func scriptedUpstream(t *testing.T, answer func(c net.Conn)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]struct{}{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			mu.Lock()
			open[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					mu.Lock()
					delete(open, c)
					mu.Unlock()
					c.Close()
				}()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
				}
				answer(c)
			})
		}
	})
	return ln.Addr().String(), &conns
}

// TestUnaskedSwitchIsAnAnswer: an upstream that switches protocols on a
// request that asked for no upgrade has answered (it is not ejected), but
// the client gets a 502, on both paths.
func TestUnaskedSwitchIsAnAnswer(t *testing.T) {
	addr := rawUpstream(t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n")
	for _, std := range []bool{true, false} {
		p := newPool(t, Config{StdlibTransport: std}, addr)
		srv, client := front(t, p)
		if code, _ := get(t, client, srv.URL+"/"); code != http.StatusBadGateway {
			t.Errorf("StdlibTransport %v: status %d, want 502", std, code)
		}
		if st := p.Status()[0]; st.Failures != 0 || st.Ejected {
			t.Errorf("StdlibTransport %v: upstream status %+v, want an answer, not a failure", std, st)
		}
	}
}
