package serve

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// conformanceHandler is what both engines serve in the differential test:
// each path is one way a handler can use its ResponseWriter.
func conformanceHandler() http.Handler {
	mux := http.NewServeMux()
	h := func(path string, f func(w http.ResponseWriter, r *http.Request)) { mux.HandleFunc(path, f) }
	h("/small", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	h("/4k", func(w http.ResponseWriter, r *http.Request) { w.Write(fill(4 << 10)) })
	h("/2048", func(w http.ResponseWriter, r *http.Request) { w.Write(fill(2048)) })
	h("/2049", func(w http.ResponseWriter, r *http.Request) { w.Write(fill(2049)) })
	h("/1024x2", func(w http.ResponseWriter, r *http.Request) {
		w.Write(fill(1024))
		w.Write(fill(1024))
	})
	h("/flushonly", func(w http.ResponseWriter, r *http.Request) { http.NewResponseController(w).Flush() })
	h("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(fill(20 << 10)) })
	h("/bigwrites", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 10; i++ {
			w.Write(fill(2000))
		}
	})
	h("/cl", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	})
	h("/end", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "end")
	})
	h("/ct", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	})
	h("/multi", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("X-A", "1")
		w.Header().Add("X-A", "2")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "multi")
	})
	h("/error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusServiceUnavailable) })
	// Header changes after the first Write have no effect (ResponseWriter's
	// contract), even while the body is still buffered.
	h("/lateheader", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "abc")
		w.Header().Set("X-Late", "1")
		w.Header().Set("Content-Length", "10")
	})
	h("/lateheader204", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		w.Header().Set("X-Late", "1")
	})
	h("/empty", func(w http.ResponseWriter, r *http.Request) {})
	h("/204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h("/204body", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		if _, err := io.WriteString(w, "x"); err != http.ErrBodyNotAllowed {
			panic(fmt.Sprintf("write after 204: %v, want ErrBodyNotAllowed", err))
		}
	})
	h("/304", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.WriteHeader(http.StatusNotModified)
		io.WriteString(w, "not allowed")
	})
	h("/flush", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first ")
		if err := http.NewResponseController(w).Flush(); err != nil {
			panic(err)
		}
		io.WriteString(w, "second")
	})
	h("/trailers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Announced")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "body")
		w.Header().Set("X-Announced", "a")
		w.Header().Set(http.TrailerPrefix+"X-Late", "b")
	})
	h("/103", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "after hints")
	})
	h("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	h("/abort", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		panic(http.ErrAbortHandler)
	})
	h("/abortflushed", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	})
	h("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "abc")
	})
	h("/long", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		io.WriteString(w, "abc")
		if _, err := io.WriteString(w, "def"); err != http.ErrContentLength {
			panic(fmt.Sprintf("write past Content-Length: %v, want ErrContentLength", err))
		}
	})
	// echo shows what the server parsed: the request line, framing and
	// body, so a parsing difference shows in the response.
	h("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Uri", r.RequestURI)
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Proto", r.Proto)
		w.Header().Set("X-Content-Length", fmt.Sprint(r.ContentLength))
		w.Header().Set("X-Transfer-Encoding", strings.Join(r.TransferEncoding, ","))
		w.Header().Set("X-Close", fmt.Sprint(r.Close))
		w.Header().Set("X-Trailer", r.Trailer.Get("X-T"))
		w.Header().Set("X-Header-A", strings.Join(r.Header.Values("X-A"), "|"))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "bad body")
			return
		}
		w.Write(body)
	})
	h("/closebody", func(w http.ResponseWriter, r *http.Request) {
		r.Body.Close()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "closed")
	})
	h("/maxbytes", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4))
		w.Header().Set("Content-Type", "text/plain")
		if err != nil {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		}
	})
	h("/te-chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "chunked")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "chunked by request")
	})
	h("/te-identity", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Transfer-Encoding", "identity")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "identity")
	})
	h("/noread", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "not read")
	})
	// As the lb's limiter refuses a client: close, without reading a body.
	h("/refuse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	})
	return mux
}

// fill returns n bytes of a repeating pattern.
func fill(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}

type rawCase struct {
	name string
	raw  string
	// methods of the requests in raw, in order, when not all GET.
	methods []string
	// sniff: net/http sniffs a Content-Type here because the handler sets
	// none. The own loop need not sniff (a proxy's upstream sets its own), so
	// Content-Type is compared only if the own loop sent one.
	sniff bool
	// ownRefuses: the own loop deliberately answers 400 and closes where
	// net/http serves the request (documented in http1.go).
	ownRefuses bool
	// ownKeeps: the own loop answers the first request as net/http does
	// but keeps the connection where net/http closes it. net/http's
	// MaxBytesReader tells its server through an unexported method; the
	// own loop reads past the small rest of the body instead.
	ownKeeps bool
}

const host = "Host: t\r\n"

// sentinel ends every raw exchange; see TestOwnHTTP1MatchesNetHTTP.
const sentinel = "GET /end HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n"

func get(path string) string { return "GET " + path + " HTTP/1.1\r\n" + host + "\r\n" }

var rawCases = []rawCase{
	// Responses.
	{name: "small body gets a computed Content-Length", raw: get("/small"), sniff: true},
	{name: "4 KiB body without Content-Length", raw: get("/4k"), sniff: true},
	{name: "2048 bytes in one write", raw: get("/2048"), sniff: true},
	{name: "2049 bytes in one write", raw: get("/2049"), sniff: true},
	{name: "2048 bytes in two writes", raw: get("/1024x2"), sniff: true},
	{name: "flush with nothing written", raw: get("/flushonly")},
	{name: "HEAD with an explicit Content-Length", raw: "HEAD /cl HTTP/1.1\r\n" + host + "\r\n", methods: []string{"HEAD"}, sniff: true},
	{name: "thirty pipelined GETs", raw: strings.Repeat(get("/small"), 30), sniff: true},
	{name: "body over 8 KiB without Content-Length is chunked", raw: get("/big"), sniff: true},
	{name: "many small writes adding up to 20 KB", raw: get("/bigwrites"), sniff: true},
	{name: "explicit Content-Length", raw: get("/cl"), sniff: true},
	{name: "handler Content-Type is kept", raw: get("/ct")},
	{name: "repeated header values", raw: get("/multi")},
	{name: "http.Error", raw: get("/error")},
	{name: "header changes after Write have no effect", raw: get("/lateheader")},
	{name: "header changes after WriteHeader have no effect", raw: get("/lateheader204")},
	{name: "handler writes nothing", raw: get("/empty")},
	{name: "204", raw: get("/204")},
	{name: "204 with a body write", raw: get("/204body")},
	{name: "304 with a body write", raw: get("/304")},
	{name: "HEAD on a handler that writes a small body", raw: "HEAD /small HTTP/1.1\r\n" + host + "\r\n", methods: []string{"HEAD"}, sniff: true},
	{name: "HEAD on a handler that writes a big body", raw: "HEAD /big HTTP/1.1\r\n" + host + "\r\n", methods: []string{"HEAD"}, sniff: true},
	{name: "HEAD then GET pipelined", raw: "HEAD /small HTTP/1.1\r\n" + host + "\r\n" + get("/small"), methods: []string{"HEAD", "GET"}, sniff: true},
	{name: "flush between writes makes it chunked", raw: get("/flush"), sniff: true},
	{name: "trailers announced and by prefix", raw: get("/trailers")},
	{name: "103 early hints then 200", raw: get("/103")},
	{name: "handler sets Connection close", raw: get("/close") + get("/small"), sniff: true},
	{name: "ErrAbortHandler before anything was flushed", raw: get("/abort") + get("/small"), sniff: true},
	{name: "ErrAbortHandler after a flush truncates the response", raw: get("/abortflushed") + get("/small"), sniff: true},
	{name: "declared Content-Length 10 with 3 bytes written", raw: get("/short") + get("/small"), sniff: true},
	{name: "write past declared Content-Length", raw: get("/long") + get("/small"), sniff: true},
	{name: "unknown path", raw: get("/nope")},
	{name: "handler sets Transfer-Encoding chunked", raw: get("/te-chunked")},
	{name: "handler sets Transfer-Encoding identity", raw: get("/te-identity") + get("/small"), sniff: true},
	{name: "OPTIONS *", raw: "OPTIONS * HTTP/1.1\r\n" + host + "\r\n"},
	{name: "CONNECT", raw: "CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n"},
	{name: "empty Host header", raw: "GET /echo HTTP/1.1\r\nHost:\r\n\r\n", ownRefuses: true},
	{name: "absolute-form request target", raw: "GET http://other/echo?q=1 HTTP/1.1\r\n" + host + "\r\n"},
	{name: "escaped path and query", raw: get("/echo/../echo?a=%20b&c")},
	{name: "lowercase method", raw: "get /echo HTTP/1.1\r\n" + host + "\r\n"},

	// Request bodies.
	{name: "POST with Content-Length echoed", raw: "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 11\r\n\r\nhello world" + get("/small"), methods: []string{"POST"}, sniff: true},
	{name: "POST without a body", raw: "POST /echo HTTP/1.1\r\n" + host + "\r\n", methods: []string{"POST"}},
	{name: "CRLF after a POST body", raw: "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello\r\n" + get("/small"), methods: []string{"POST"}, sniff: true},
	{name: "empty Expect", raw: "POST /echo HTTP/1.1\r\n" + host + "Expect:\r\nContent-Length: 5\r\n\r\nhello", methods: []string{"POST"}, sniff: true},
	{name: "refused with a small unread body", raw: "POST /refuse HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello", methods: []string{"POST"}},
	{name: "refused with a large unread body", raw: "POST /refuse HTTP/1.1\r\n" + host + "Content-Length: 400000\r\n\r\n" + string(fill(400000)), methods: []string{"POST"}},
	{name: "chunked request body echoed", raw: "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" + get("/small"), methods: []string{"POST"}, sniff: true},
	{name: "chunked request body with extension and trailer", raw: "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: v\r\n\r\n", methods: []string{"POST"}},
	{name: "small unread body, next pipelined request", raw: "POST /noread HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello" + get("/small"), methods: []string{"POST"}, sniff: true},
	{name: "small unread chunked body, next pipelined request", raw: "POST /noread HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get("/small"), methods: []string{"POST"}, sniff: true},
	{name: "small body closed unread by the handler", raw: "POST /closebody HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello" + get("/small"), methods: []string{"POST"}, sniff: true},
	{name: "MaxBytesReader limit hit", raw: "POST /maxbytes HTTP/1.1\r\n" + host + "Content-Length: 10\r\n\r\n0123456789" + get("/small"), methods: []string{"POST"}, sniff: true, ownKeeps: true},
	{name: "large unread body", raw: "POST /noread HTTP/1.1\r\n" + host + "Content-Length: 300000\r\n\r\n" + string(fill(300000)) + get("/small"), methods: []string{"POST"}, sniff: true},
	{name: "Expect 100-continue, body sent anyway, handler does not read", raw: "POST /noread HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" + get("/small"), methods: []string{"POST"}, sniff: true},
	{name: "unknown expectation", raw: "POST /echo HTTP/1.1\r\n" + host + "Expect: something\r\nContent-Length: 5\r\n\r\nhello", methods: []string{"POST"}},
	{name: "unsupported transfer coding", raw: "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\nhello", methods: []string{"POST"}},
	{name: "gzip, chunked transfer coding", raw: "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", methods: []string{"POST"}},
	{name: "repeated equal Content-Length", raw: "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", methods: []string{"POST"}},
	{name: "Content-Length with a plus sign", raw: "POST /echo HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\nhello", methods: []string{"POST"}},
	{name: "negative Content-Length", raw: "POST /echo HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\nhello", methods: []string{"POST"}},
	{name: "body shorter than Content-Length, client half-waits", raw: "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 10\r\n\r\nhello", methods: []string{"POST"}},

	// Keep-alive.
	{name: "two pipelined GETs", raw: get("/small") + get("/cl"), sniff: true},
	{name: "three pipelined GETs", raw: get("/big") + get("/empty") + get("/small"), sniff: true},
	{name: "HTTP/1.0 without keep-alive closes", raw: "GET /small HTTP/1.0\r\n\r\n" + get("/small"), sniff: true},
	{name: "HTTP/1.0 with keep-alive", raw: "GET /small HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /cl HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", sniff: true},
	{name: "HTTP/1.0 keep-alive with a big body", raw: "GET /big HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get("/small"), sniff: true},
	{name: "HTTP/1.0 echo", raw: "GET /echo HTTP/1.0\r\n\r\n"},
	{name: "HTTP/1.1 with Connection close", raw: "GET /small HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n" + get("/small"), sniff: true},
	{name: "Connection close among other tokens", raw: "GET /echo HTTP/1.1\r\n" + host + "Connection: foo, Close\r\n\r\n" + get("/small"), sniff: true},
	{name: "HTTP/1.2 is served as 1.x", raw: "GET /echo HTTP/1.2\r\n" + host + "\r\n"},

	// Malformed.
	{name: "missing Host on HTTP/1.1", raw: "GET /small HTTP/1.1\r\n\r\n" + get("/small")},
	{name: "two Host headers", raw: "GET /small HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + get("/small")},
	{name: "invalid header name", raw: "GET /small HTTP/1.1\r\n" + host + "Bad Header: x\r\n\r\n" + get("/small")},
	{name: "space before colon", raw: "GET /small HTTP/1.1\r\n" + host + "X-A : x\r\n\r\n" + get("/small")},
	{name: "NUL in a header value", raw: "GET /small HTTP/1.1\r\n" + host + "X-A: a\x00b\r\n\r\n" + get("/small")},
	{name: "obsolete line folding", raw: "GET /echo HTTP/1.1\r\n" + host + "X-A: a\r\n b\r\n\r\n"},
	{name: "Content-Length and Transfer-Encoding", raw: "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get("/small"), methods: []string{"POST"}, sniff: true},
	{name: "two differing Content-Lengths", raw: "POST /echo HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!" + get("/small"), methods: []string{"POST"}},
	{name: "bad chunk size", raw: "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n" + get("/small"), methods: []string{"POST"}},
	{name: "chunk size overflow", raw: "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nhello\r\n0\r\n\r\n" + get("/small"), methods: []string{"POST"}},
	{name: "chunk without CRLF after data", raw: "POST /echo HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n" + get("/small"), methods: []string{"POST"}},
	{name: "HTTP/2.0 request line over HTTP/1", raw: "GET /small HTTP/2.0\r\n" + host + "\r\n"},
	{name: "HTTP/3.0 request line", raw: "GET /small HTTP/3.0\r\n" + host + "\r\n"},
	{name: "HTTP/0.9 request line", raw: "GET /small HTTP/0.9\r\n" + host + "\r\n"},
	{name: "h2c prior-knowledge preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
	{name: "request line garbage", raw: "hello\r\n\r\n"},
	{name: "request line with a bad version", raw: "GET /small FTP/1.1\r\n" + host + "\r\n"},
	{name: "double space in request line", raw: "GET  /small HTTP/1.1\r\n" + host + "\r\n"},
	{name: "leading empty line", raw: "\r\n" + get("/small"), sniff: true},
	{name: "headers between MaxHeaderBytes and MaxHeaderBytes+4096", raw: "GET /small HTTP/1.1\r\n" + host + "X-Big: " + strings.Repeat("b", 6000) + "\r\n\r\n", sniff: true},
	{name: "headers far over MaxHeaderBytes", raw: "GET /small HTTP/1.1\r\n" + host + "X-Big: " + strings.Repeat("b", 12000) + "\r\n\r\n"},
	{name: "request target far over MaxHeaderBytes", raw: "GET /small?" + strings.Repeat("q", 12000) + " HTTP/1.1\r\n" + host + "\r\n"},
	{name: "bare LF line endings", raw: "GET /small HTTP/1.1\n" + host[:len(host)-2] + "\n\n", sniff: true},
}

// TestOwnHTTP1MatchesNetHTTP writes each raw request to a net/http server
// and to an own-loop server with the same handler and compares what a
// client sees: statuses, framing, bodies, trailers and whether the
// connection stays open.
func TestOwnHTTP1MatchesNetHTTP(t *testing.T) {
	t.Parallel()
	const wait = 3 * time.Second
	transports := []struct {
		name string
		tls  bool
	}{{"tls", true}, {"plain", false}}
	var servers [2][len(engines)]*testServer // by transport, engine
	for i, tr := range transports {
		for j, e := range engines {
			servers[i][j] = startServer(t, conformanceHandler(), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own, MaxHeaderBytes: 4096}, tr.tls)
		}
	}
	// Each exchange ends with a sentinel request that asks the server to
	// close: a server that kept the connection open answers it and closes,
	// so no exchange has to wait out a deadline to learn the connection
	// stayed open. The exchanges run at once, then are compared one by one.
	results := make([][2][len(engines)]exchange, len(rawCases))
	var wg sync.WaitGroup
	limit := make(chan struct{}, 32)
	for i, c := range rawCases {
		for j := range servers {
			for k := range engines {
				wg.Go(func() {
					limit <- struct{}{}
					defer func() { <-limit }()
					results[i][j][k] = servers[j][k].roundTrip(c.raw+sentinel, c.methods, wait)
				})
			}
		}
	}
	wg.Wait()
	for j, tr := range transports {
		for i, c := range rawCases {
			t.Run(tr.name+"/"+c.name, func(t *testing.T) {
				std := results[i][j][0]
				if len(std.Responses) == 0 && strings.HasPrefix(std.End, "dial") {
					t.Fatalf("net/http: %s", std.End)
				}
				for k := 1; k < len(engines); k++ {
					compareExchange(t, c, std, results[i][j][k], engines[k].name)
				}
			})
		}
	}
}

// compareExchange checks one engine's exchange (own) against net/http's.
func compareExchange(t *testing.T, c rawCase, std, own exchange, name string) {
	t.Helper()
	if c.ownRefuses {
		if len(own.Responses) != 1 || own.Responses[0].Status != http.StatusBadRequest || own.End != "closed" {
			t.Errorf("request %q\n%s: want 400 and close\n%s", abbrev(c.raw), name, own)
		}
		return
	}
	if c.ownKeeps {
		if len(std.Responses) == 0 || len(own.Responses) < 2 || own.Responses[0].Status != std.Responses[0].Status {
			t.Errorf("request %q\nnet/http:\n%s\n%s: want the same first status, then the next request served\n%s", abbrev(c.raw), std, name, own)
		}
		return
	}
	if c.sniff {
		unsniff(&std, &own)
	}
	if std.String() != own.String() {
		t.Errorf("request %q\nnet/http:\n%s\n%s:\n%s\nnet/http raw: %q\n%s raw: %q",
			abbrev(c.raw), std, name, own, std.Raw, name, own.Raw)
	}
}

// unsniff drops Content-Type from the responses where the own loop sent
// none: net/http sniffs one from the body, which the own loop need not do.
func unsniff(std, own *exchange) {
	for i := range min(len(std.Responses), len(own.Responses)) {
		if own.Responses[i].Header.Get("Content-Type") == "" {
			std.Responses[i].Header.Del("Content-Type")
		}
	}
}

func abbrev(s string) string {
	if len(s) > 300 {
		return fmt.Sprintf("%s...(%d bytes)", s[:300], len(s))
	}
	return s
}

// TestOwnHTTP1ExpectContinue sends the headers alone and the body only after
// the interim response, as curl does, and compares the engines.
func TestOwnHTTP1ExpectContinue(t *testing.T) {
	for _, withTLS := range []bool{true, false} {
		var got [len(engines)]string
		for i, e := range engines {
			s := startServer(t, conformanceHandler(), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own}, withTLS)
			c := s.dial(t)
			c.SetDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(c, "POST /echo HTTP/1.1\r\n"+host+"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
			if err != nil {
				t.Fatalf("%s tls=%v: no interim response: %v", e.name, withTLS, err)
			}
			if resp.StatusCode != http.StatusContinue {
				t.Fatalf("%s tls=%v: first response %s, want 100 Continue", e.name, withTLS, resp.Status)
			}
			io.WriteString(c, "hello")
			resp, err = http.ReadResponse(br, &http.Request{Method: "POST"})
			if err != nil {
				t.Fatalf("%s tls=%v: final response: %v", e.name, withTLS, err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || string(body) != "hello" {
				t.Fatalf("%s tls=%v: final response %s %q %v, want 200 hello", e.name, withTLS, resp.Status, body, err)
			}
			// The connection stays usable.
			io.WriteString(c, get("/cl"))
			resp, err = http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s tls=%v: next request: %v", e.name, withTLS, err)
			}
			resp.Body.Close()
			got[i] = fmt.Sprintf("continue then %d, next %d", 200, resp.StatusCode)
		}
		for i := 1; i < len(got); i++ {
			if got[0] != got[i] {
				t.Errorf("tls=%v: net/http %s; %s %s", withTLS, got[0], engines[i].name, got[i])
			}
		}
	}
}

// TestOwnHTTP1ExpectContinueNotRead: a handler that answers without reading
// the body must not ask for it, and must say the connection will not be
// reused, since the client may still send the body. Whether the server then
// closes at once is not compared: net/http waits for the body the client
// may still send (it discards up to 256 KiB), which a client cannot tell
// from an open connection.
func TestOwnHTTP1ExpectContinueNotRead(t *testing.T) {
	t.Parallel()
	var got [len(engines)]exchange
	for i, e := range engines {
		s := startServer(t, conformanceHandler(), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own}, true)
		c := s.dial(t)
		c.SetDeadline(time.Now().Add(1500 * time.Millisecond))
		io.WriteString(c, "POST /noread HTTP/1.1\r\n"+host+"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		got[i] = readExchange(c, []string{"POST"})
		if got[i].End == "closed" || got[i].End == "reset" {
			got[i].End = "open or closed"
		}
		if got[i].End == "open" {
			got[i].End = "open or closed"
		}
	}
	for i := 1; i < len(got); i++ {
		if got[0].String() != got[i].String() {
			t.Errorf("net/http:\n%s\n%s:\n%s", got[0], engines[i].name, got[i])
		}
		if r := got[i].Responses; len(r) != 1 || r[0].Status != 200 || !r[0].Close {
			t.Errorf("%s: want one 200 with Connection: close and no 100 Continue:\n%s", engines[i].name, got[i])
		}
	}
}

// TestOwnHTTP1RequestFields: the handler sees what net/http would give it.
func TestOwnHTTP1RequestFields(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			type seen struct {
				r   *http.Request
				ctx context.Context
			}
			ch := make(chan seen, 1)
			s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// A copy: with ReuseRequests the request is not the
				// handler's to keep once it returns.
				cp, u := *r, *r.URL
				cp.URL = &u
				ch <- seen{&cp, r.Context()}
				io.WriteString(w, "ok")
			}), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own}, true)
			c := s.dial(t)
			c.SetDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(c, "GET /info?x=1 HTTP/1.1\r\nHost: example.test\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := <-ch
			r := got.r
			if r.RemoteAddr != c.LocalAddr().String() {
				t.Errorf("RemoteAddr %q, want the client's address %q", r.RemoteAddr, c.LocalAddr())
			}
			if r.TLS == nil || !r.TLS.HandshakeComplete || r.TLS.NegotiatedProtocol != "http/1.1" {
				t.Errorf("TLS state %+v, want a complete handshake with http/1.1", r.TLS)
			}
			if r.Host != "example.test" || r.RequestURI != "/info?x=1" || r.URL.Path != "/info" || r.URL.RawQuery != "x=1" {
				t.Errorf("Host %q RequestURI %q URL %v", r.Host, r.RequestURI, r.URL)
			}
			if r.Proto != "HTTP/1.1" || r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.Method != "GET" {
				t.Errorf("Method %q Proto %q %d.%d", r.Method, r.Proto, r.ProtoMajor, r.ProtoMinor)
			}
			if srv, ok := got.ctx.Value(http.ServerContextKey).(*http.Server); !ok || srv == nil {
				t.Errorf("context ServerContextKey = %v, want the *http.Server", got.ctx.Value(http.ServerContextKey))
			}
			if la, ok := got.ctx.Value(http.LocalAddrContextKey).(net.Addr); !ok || la.String() != c.RemoteAddr().String() {
				t.Errorf("context LocalAddrContextKey = %v, want %v", got.ctx.Value(http.LocalAddrContextKey), c.RemoteAddr())
			}
			select {
			case <-got.ctx.Done():
			case <-time.After(time.Second):
				t.Error("the request context was not cancelled after the handler returned")
			}
		})
	}
}

// TestOwnHTTP1LeavesH2ToNetHTTP: one listener serves an h2 client with
// HTTP/2 and an http/1.1 client with HTTP/1.1.
func TestOwnHTTP1LeavesH2ToNetHTTP(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "%d", r.ProtoMajor)
			}), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own}, true)
			_, pool := testTLS(t)
			for _, tc := range []struct {
				protos []string
				want   string
			}{{[]string{"h2", "http/1.1"}, "2"}, {[]string{"http/1.1"}, "1"}} {
				tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: tc.protos}, ForceAttemptHTTP2: true}
				if tc.want == "1" {
					tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
				}
				defer tr.CloseIdleConnections()
				resp, err := (&http.Client{Transport: tr, Timeout: 3 * time.Second}).Get("https://" + s.addr + "/")
				if err != nil {
					t.Fatalf("ALPN %v: %v", tc.protos, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) != tc.want || resp.ProtoMajor != int(tc.want[0]-'0') {
					t.Errorf("ALPN %v: handler saw HTTP/%s, client got %s; want HTTP/%s", tc.protos, body, resp.Proto, tc.want)
				}
			}
		})
	}
}

// TestOwnHTTP1ReadHeaderTimeout: half a request line, then silence, is cut
// off after ReadHeaderTimeout without a response.
func TestOwnHTTP1ReadHeaderTimeout(t *testing.T) {
	var got [len(engines)]string
	for i, e := range engines {
		s := startServer(t, conformanceHandler(), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own, ReadHeaderTimeout: 200 * time.Millisecond}, true)
		c := s.dial(t)
		start := time.Now()
		c.SetDeadline(start.Add(4 * time.Second))
		io.WriteString(c, "GET /sm")
		ex := readExchange(c, nil)
		took := time.Since(start)
		if ex.End != "closed" && ex.End != "reset" {
			t.Errorf("%s: after a stalled request line the connection is %s, want closed", e.name, ex.End)
		}
		if took < 150*time.Millisecond || took > 3*time.Second {
			t.Errorf("%s: cut off after %v, want about 200ms", e.name, took)
		}
		got[i] = ex.String()
	}
	for i := 1; i < len(got); i++ {
		if got[0] != got[i] {
			t.Errorf("net/http:\n%s\n%s:\n%s", got[0], engines[i].name, got[i])
		}
	}
}

// TestOwnHTTP1IdleTimeout: a keep-alive connection with no next request is
// closed after IdleTimeout.
func TestOwnHTTP1IdleTimeout(t *testing.T) {
	for _, e := range engines {
		s := startServer(t, conformanceHandler(), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own, IdleTimeout: 300 * time.Millisecond}, true)
		c := s.dial(t)
		c.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c, get("/cl"))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		io.ReadAll(resp.Body)
		start := time.Now()
		_, err = br.Peek(1)
		took := time.Since(start)
		if end := endOf(err); end != "closed" && end != "reset" {
			t.Errorf("%s: idle connection ended %s, want closed", e.name, end)
		}
		if took < 200*time.Millisecond || took > 2500*time.Millisecond {
			t.Errorf("%s: idle connection closed after %v, want about 300ms", e.name, took)
		}
	}
}

// TestOwnHTTP1GracefulDrain: when the context ends, a request in flight
// completes, idle connections close, new ones are refused and Run returns
// nil.
func TestOwnHTTP1GracefulDrain(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			entered := make(chan struct{}, 1)
			mux := http.NewServeMux()
			mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				time.Sleep(300 * time.Millisecond)
				io.WriteString(w, "done")
			})
			mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fast") })
			s := startServer(t, mux, Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own, DrainTimeout: 3 * time.Second}, true)

			idle := s.dial(t)
			idle.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(idle, get("/fast"))
			idleBR := bufio.NewReader(idle)
			resp, err := http.ReadResponse(idleBR, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)

			busy := s.dial(t)
			busy.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(busy, get("/slow"))
			<-entered
			cancelled := time.Now()
			s.cancel()

			_, err = idleBR.Peek(1)
			if end := endOf(err); end != "closed" && end != "reset" {
				t.Errorf("idle connection during drain: %s, want closed", end)
			}
			if took := time.Since(cancelled); took > time.Second {
				t.Errorf("idle connection closed %v after the drain began, want promptly", took)
			}
			refused := false
			for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if c, err := net.DialTimeout("tcp", s.addr, time.Second); err != nil {
					refused = true
					break
				} else {
					c.Close()
				}
			}
			if !refused {
				t.Error("new connections are still accepted during the drain")
			}
			ex := readExchange(busy, nil)
			if len(ex.Responses) != 1 || ex.Responses[0].Status != 200 || string(ex.Responses[0].Body) != "done" || ex.Responses[0].BodyErr != "" {
				t.Errorf("request in flight during the drain:\n%s", ex)
			}
			if ex.End != "closed" {
				t.Errorf("busy connection after the drain: %s, want closed", ex.End)
			}
			select {
			case err := <-s.done:
				s.done <- err // for the cleanup
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(2 * time.Second):
				t.Error("Run did not return after the drain")
			}
		})
	}
}

// TestOwnHTTP1DrainTimeout: a handler that outlives DrainTimeout does not
// hold Run.
func TestOwnHTTP1DrainTimeout(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			entered := make(chan struct{}, 1)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			ctxDone := make(chan struct{})
			s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				select {
				case <-r.Context().Done():
					close(ctxDone)
					<-release
				case <-time.After(5 * time.Second):
				case <-release:
				}
			}), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own, DrainTimeout: 200 * time.Millisecond}, true)
			c := s.dial(t)
			io.WriteString(c, get("/"))
			<-entered
			start := time.Now()
			s.cancel()
			select {
			case err := <-s.done:
				s.done <- err
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("Run returned %v after the context ended, want about 200ms", took)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("Run did not return within 3s with DrainTimeout 200ms")
			}
			// The handler's context ends with the connection.
			select {
			case <-ctxDone:
			case <-time.After(time.Second):
				t.Error("the request context was not cancelled when the drain timed out")
			}
		})
	}
}

// TestOwnHTTP1Hijack: a handler can take the connection over, including
// bytes the client sent right after the request.
func TestOwnHTTP1Hijack(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, brw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				defer conn.Close()
				io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
				brw.Flush()
				buf := make([]byte, 64)
				for {
					n, err := brw.Read(buf)
					if n > 0 {
						conn.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own}, true)
			c := s.dial(t)
			c.SetDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(c, "GET /ws HTTP/1.1\r\n"+host+"Upgrade: echo\r\nConnection: Upgrade\r\n\r\nearly")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "echo" {
				t.Fatalf("got %s %v, want 101 with Upgrade: echo", resp.Status, resp.Header)
			}
			want := "early"
			for _, msg := range []string{"", "ping", "pong"} {
				if msg != "" {
					io.WriteString(c, msg)
					want = msg
				}
				got := make([]byte, len(want))
				if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
					t.Fatalf("echo of %q: got %q, %v", want, got, err)
				}
			}
		})
	}
}

// h1Observer counts what an Observer is told.
type h1Observer struct {
	ok, failed, requests atomic.Int64
}

func (o *h1Observer) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		h.ServeHTTP(w, r)
	})
}

func (o *h1Observer) Handshake(ok bool) {
	if ok {
		o.ok.Add(1)
	} else {
		o.failed.Add(1)
	}
}

func (o *h1Observer) String() string {
	return fmt.Sprintf("%d handshakes ok, %d failed, %d requests", o.ok.Load(), o.failed.Load(), o.requests.Load())
}

// closeAfterWrite closes the connection once the client has sent its
// ClientHello: a handshake abandoned halfway.
type closeAfterWrite struct{ net.Conn }

func (c closeAfterWrite) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.Conn.Close()
	return n, err
}

// TestOwnHTTP1ObservesHandshakes: the Observer hears of each TLS handshake
// as it does with net/http.
func TestOwnHTTP1ObservesHandshakes(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name string
		want string // as h1Observer.String
		run  func(t *testing.T, s *testServer)
	}{
		{"two connections, three requests", "2 handshakes ok, 0 failed, 3 requests", func(t *testing.T, s *testServer) {
			for _, n := range []int{1, 2} {
				c := s.dial(t)
				c.SetDeadline(time.Now().Add(3 * time.Second))
				io.WriteString(c, strings.Repeat(get("/cl"), n))
				br := bufio.NewReader(c)
				for range n {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatal(err)
					}
					io.ReadAll(resp.Body)
				}
				c.Close()
			}
		}},
		{"a client offering only TLS 1.1", "0 handshakes ok, 1 failed, 0 requests", func(t *testing.T, s *testServer) {
			cfg := s.tls.Clone()
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
			if c, err := tls.Dial("tcp", s.addr, cfg); err == nil {
				c.Close()
				t.Error("a TLS 1.1 handshake succeeded")
			}
		}},
		{"a client that hangs up after its ClientHello", "0 handshakes ok, 1 failed, 0 requests", func(t *testing.T, s *testServer) {
			raw, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			cfg := s.tls.Clone()
			cfg.ServerName = "127.0.0.1"
			if err := tls.Client(closeAfterWrite{raw}, cfg).Handshake(); err == nil {
				t.Error("a handshake on a closed connection succeeded")
			}
		}},
		{"a client that rejects the certificate's name", "0 handshakes ok, 1 failed, 0 requests", func(t *testing.T, s *testServer) {
			cfg := s.tls.Clone()
			cfg.ServerName = "other.example"
			if c, err := tls.Dial("tcp", s.addr, cfg); err == nil {
				c.Close()
				t.Error("the client accepted a certificate for another name")
			}
		}},
		{"an h2 connection", "1 handshakes ok, 0 failed, 2 requests", func(t *testing.T, s *testServer) {
			_, pool := testTLS(t)
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}}, ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			for range 2 {
				resp, err := (&http.Client{Transport: tr, Timeout: 3 * time.Second}).Get("https://" + s.addr + "/cl")
				if err != nil {
					t.Fatal(err)
				}
				io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.ProtoMajor != 2 {
					t.Fatalf("got %s, want HTTP/2", resp.Proto)
				}
			}
		}},
		{"a port probe is not a handshake", "0 handshakes ok, 0 failed, 0 requests", func(t *testing.T, s *testServer) {
			if c, err := net.Dial("tcp", s.addr); err == nil {
				c.Close()
			}
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			var got [len(engines)]string
			for i, e := range engines {
				obs := &h1Observer{}
				s := startServer(t, conformanceHandler(), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own, Observer: obs}, true)
				sc.run(t, s)
				// Outcomes are reported when the server notices the
				// connection end; give it time and check nothing more comes.
				deadline := time.Now().Add(time.Second)
				for sc.want != "" && obs.String() != sc.want && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				time.Sleep(100 * time.Millisecond)
				got[i] = obs.String()
			}
			for i := 1; i < len(got); i++ {
				if sc.want != "" && got[i] != sc.want {
					t.Errorf("%s: %s (net/http: %s), want %s", engines[i].name, got[i], got[0], sc.want)
				}
				if got[0] != got[i] {
					t.Errorf("net/http: %s; %s: %s", got[0], engines[i].name, got[i])
				}
			}
		})
	}
}

// TestOwnHTTP1PlainHTTPOnTLSPort: a plain HTTP request on the TLS port gets
// net/http's hint.
func TestOwnHTTP1PlainHTTPOnTLSPort(t *testing.T) {
	const want = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
	var got [len(engines)]string
	for i, e := range engines {
		s := startServer(t, conformanceHandler(), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own}, true)
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, get("/small"))
		b, err := io.ReadAll(c)
		got[i] = fmt.Sprintf("%q, then %s", b, endOf(errOrEOF(err)))
	}
	for i := 1; i < len(got); i++ {
		if wantGot := fmt.Sprintf("%q, then closed", want); got[i] != wantGot {
			t.Errorf("%s: %s\nwant %s", engines[i].name, got[i], wantGot)
		}
		if got[0] != got[i] {
			t.Errorf("net/http: %s\n%s: %s", got[0], engines[i].name, got[i])
		}
	}
}

func errOrEOF(err error) error {
	if err == nil {
		return io.EOF
	}
	return err
}

// TestOwnHTTP1SurvivesHandlerPanic: a panicking handler loses its
// connection, not the process, and the server goes on serving.
func TestOwnHTTP1SurvivesHandlerPanic(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "partial")
				panic(errors.New("boom"))
			})
			mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
			s := startServer(t, mux, Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own}, true)
			// Another client, mid keep-alive, is not disturbed.
			other := s.dial(t)
			other.SetDeadline(time.Now().Add(3 * time.Second))
			otherBR := bufio.NewReader(other)
			io.WriteString(other, get("/ok"))
			if resp, err := http.ReadResponse(otherBR, nil); err != nil {
				t.Fatal(err)
			} else {
				io.ReadAll(resp.Body)
			}

			c := s.dial(t)
			c.SetDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(c, get("/panic")+get("/ok"))
			ex := readExchange(c, nil)
			if len(ex.Responses) != 0 || (ex.End != "closed" && ex.End != "reset") {
				t.Errorf("after a panic the client got:\n%s\nwant no response and a closed connection", ex)
			}

			io.WriteString(other, get("/ok"))
			resp, err := http.ReadResponse(otherBR, nil)
			if err != nil {
				t.Fatalf("the other connection after the panic: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if string(body) != "ok" {
				t.Errorf("the other connection after the panic got %q", body)
			}
			ex = s.roundTrip(get("/ok")+"GET /ok HTTP/1.1\r\n"+host+"Connection: close\r\n\r\n", nil, 2*time.Second)
			if len(ex.Responses) != 2 || string(ex.Responses[1].Body) != "ok" {
				t.Errorf("a new connection after the panic got:\n%s", ex)
			}
		})
	}
}

// TestOwnHTTP1SilentConnection: a client that connects and says nothing is
// cut off after ReadHeaderTimeout, as net/http does, not kept for the
// longer IdleTimeout: the first request has no idle time to wait out.
func TestOwnHTTP1SilentConnection(t *testing.T) {
	for _, e := range engines {
		for _, withTLS := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/tls=%v", e.name, withTLS), func(t *testing.T) {
				s := startServer(t, conformanceHandler(), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own, ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 10 * time.Second}, withTLS)
				c := s.dial(t) // with TLS, after the handshake
				start := time.Now()
				c.SetDeadline(start.Add(3 * time.Second))
				_, err := c.Read(make([]byte, 1))
				if end := endOf(err); end != "closed" && end != "reset" {
					t.Fatalf("silent connection: %s after %v, want closed after about ReadHeaderTimeout (200ms), not IdleTimeout (3s)", end, time.Since(start))
				}
			})
		}
	}
}

// TestOwnHTTP1SilentTLSClient: a TCP connection to the TLS port that never
// sends a ClientHello is closed after ReadHeaderTimeout.
func TestOwnHTTP1SilentTLSClient(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s := startServer(t, conformanceHandler(), Options{OwnHTTP1: e.own, Loops: e.loops, ReuseRequests: e.own, ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 10 * time.Second}, true)
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			c.SetDeadline(start.Add(4 * time.Second))
			_, err = c.Read(make([]byte, 1))
			if end := endOf(err); end != "closed" && end != "reset" {
				t.Fatalf("silent TLS client: %s, want closed", end)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("silent TLS client closed after %v, want about 200ms", took)
			}
		})
	}
}

// TestOwnHTTP1ConcurrentClients: many keep-alive clients at once, then a
// drain while they are busy; for the race detector and for lost responses.
func TestOwnHTTP1ConcurrentClients(t *testing.T) {
	s := startServer(t, conformanceHandler(), Options{OwnHTTP1: true, DrainTimeout: 2 * time.Second}, true)
	_, pool := testTLS(t)
	tr := &http.Transport{TLSClientConfig: clientTLS(pool), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}, MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := range 8 {
		wg.Go(func() {
			for j := range 12 {
				path := []string{"/small", "/big", "/flush", "/trailers"}[(i+j)%4]
				var resp *http.Response
				var err error
				if j%3 == 0 {
					resp, err = client.Post("https://"+s.addr+"/echo", "text/plain", strings.NewReader(strings.Repeat("x", 1000*j)))
					path = "/echo"
				} else {
					resp, err = client.Get("https://" + s.addr + path)
				}
				if err != nil {
					failures.Add(1)
					t.Errorf("%s: %v", path, err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || (path == "/echo" && len(body) != 1000*j) {
					failures.Add(1)
					t.Errorf("%s: %s, %d bytes, %v", path, resp.Status, len(body), err)
				}
			}
		})
	}
	wg.Wait()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Error("Run did not return after the drain")
	}
}

// TestOwnHTTP1BodyAndWriteTimeouts: a client that stops sending its body,
// or stops reading its response, for IdleTimeout is cut off, so that it
// cannot hold the handler (and, in the lb, an upstream) for ever. net/http
// without ReadTimeout and WriteTimeout has no such limit.
func TestOwnHTTP1BodyAndWriteTimeouts(t *testing.T) {
	const idle = 300 * time.Millisecond
	ended := make(chan error, 2)
	mux := http.NewServeMux()
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		ended <- err
	})
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		var err error
		for i := 0; i < 4096 && err == nil; i++ { // up to 256 MiB
			_, err = w.Write(fill(64 << 10))
		}
		ended <- err
	})
	for _, tc := range []struct{ name, raw string }{
		{"a body that stops", "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n0123456789"},
		{"a response nobody reads", get("/download")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, mux, Options{OwnHTTP1: true, IdleTimeout: idle}, true)
			c := s.dial(t)
			defer c.Close()
			start := time.Now()
			io.WriteString(c, tc.raw)
			select {
			case err := <-ended:
				if err == nil {
					t.Fatal("the handler's I/O succeeded")
				}
				if took := time.Since(start); took < idle/2 {
					t.Fatalf("cut off after %v, before the timeout of %v", took, idle)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("the handler was still blocked after 5s, with a timeout of %v", idle)
			}
		})
	}
}

// TestOwnHTTP1NoticesAClientThatLeaves: a request that runs long is
// watched, and its context ends soon after its client hangs up, as
// net/http's does; a short request is never read ahead.
func TestOwnHTTP1NoticesAClientThatLeaves(t *testing.T) {
	for _, tc := range []struct{ name, raw string }{
		{"GET", get("/wait")},
		{"POST with its body read", "POST /wait HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello"},
	} {
		for _, withTLS := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/tls=%v", tc.name, withTLS), func(t *testing.T) {
				t.Parallel()
				ended := make(chan time.Time, 1)
				mux := http.NewServeMux()
				mux.HandleFunc("/wait", func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					select {
					case <-r.Context().Done():
						ended <- time.Now()
					case <-time.After(10 * time.Second):
					}
				})
				s := startServer(t, mux, Options{OwnHTTP1: true}, withTLS)
				c := s.dial(t)
				io.WriteString(c, tc.raw)
				time.Sleep(200 * time.Millisecond)
				left := time.Now()
				c.Close()
				select {
				case at := <-ended:
					if took := at.Sub(left); took > 4*time.Second {
						t.Errorf("the context ended %v after the client left", took)
					}
				case <-time.After(8 * time.Second):
					t.Fatal("the handler's context did not end within 8s of its client leaving")
				}
			})
		}
	}
}

// TestOwnHTTP1WatchKeepsTheNextRequest: the read-ahead of a long request
// keeps what it reads: a request sent while the first still runs is served
// after it, and the first is not cancelled.
func TestOwnHTTP1WatchKeepsTheNextRequest(t *testing.T) {
	cancelled := make(chan bool, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/long", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cancelled <- true
		case <-time.After(2 * watchAfter):
			cancelled <- false
		}
		io.WriteString(w, "long")
	})
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "small") })
	s := startServer(t, mux, Options{OwnHTTP1: true}, true)
	c := s.dial(t)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, get("/long"))
	time.Sleep(watchAfter + watchAfter/2) // the watch has begun
	io.WriteString(c, get("/small"))
	br := bufio.NewReader(c)
	for _, want := range []string{"long", "small"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the %s response: %v", want, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != want {
			t.Fatalf("got %q, want %q", body, want)
		}
	}
	if <-cancelled {
		t.Fatal("the long request was cancelled while its client stayed")
	}
}
