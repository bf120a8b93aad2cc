package serve

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

const (
	wrkHead  = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	curlHead = "GET /api/v1/items?limit=10 HTTP/1.1\r\nHost: lb.example:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
	// Chrome's navigation, with the lowercase names it sends.
	browserHead = "GET /search?q=rampart&hl=en HTTP/1.1\r\n" +
		"Host: www.example.com\r\n" +
		"Connection: keep-alive\r\n" +
		"Cache-Control: max-age=0\r\n" +
		"sec-ch-ua: \"Chromium\";v=\"128\", \"Not;A=Brand\";v=\"24\", \"Google Chrome\";v=\"128\"\r\n" +
		"sec-ch-ua-mobile: ?0\r\n" +
		"sec-ch-ua-platform: \"Linux\"\r\n" +
		"Upgrade-Insecure-Requests: 1\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8\r\n" +
		"Sec-Fetch-Site: none\r\n" +
		"Sec-Fetch-Mode: navigate\r\n" +
		"Sec-Fetch-User: ?1\r\n" +
		"Sec-Fetch-Dest: document\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\n" +
		"Cookie: session=abc123; theme=dark\r\n" +
		"\r\n"
)

// simpleHeads are heads the fast path must take: the requests it exists for.
var simpleHeads = []struct{ name, head string }{
	{"wrk", wrkHead},
	{"curl", curlHead},
	{"browser", browserHead},
	{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: x\r\n\r\n"},
	{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"},
	{"HTTP/1.0 Keep-Alive mixed case", "GET / HTTP/1.0\r\nHost: x\r\nconnection: Keep-Alive\r\n\r\n"},
	{"HTTP/1.0 keep-alive and close", "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n"},
	{"Connection: close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
	{"Connection: CLOSE among tokens", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, CLOSE\r\n\r\n"},
	{"Connection close in a second line", "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n"},
	{"Connection closed is no token", "GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n"},
	{"repeated headers in order", "GET / HTTP/1.1\r\nHost: x\r\nAccept: a\r\nX-A: 1\r\nAccept: b\r\nx-a: 2\r\nAccept: c\r\n\r\n"},
	{"odd spacing around values", "GET / HTTP/1.1\r\nHost:x\r\nAccept:  \t a b \t \r\nX-Empty:\r\nX-Blank: \t \r\nX-Tab:\tv\t\r\n\r\n"},
	{"colon in value", "GET / HTTP/1.1\r\nHost: x:80\r\nReferer: http://a/b?c=d\r\n\r\n"},
	{"empty Host value", "GET / HTTP/1.1\r\nHost:\r\n\r\n"},
	{"Host after other headers", "GET / HTTP/1.1\r\nAccept: */*\r\nHost: x\r\n\r\n"},
	{"query", "GET /a/b?c=d&e=f HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"query alone", "GET /? HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"empty query then more", "GET /a?? HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"two question marks", "GET /a?b?c HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"query ending in question mark", "GET /a?b? HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"sub-delims in path", "GET /a!b$c&d'e(f)g*h+i,j;k=l:m@n HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"sub-delims in query", "GET /a?b!c'd(e)f*g HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"star in path", "GET /* HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"unreserved", "GET /-._~/AZaz09 HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"dot segments kept", "GET /a/../b/./c HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"HEAD", "HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"OPTIONS", "OPTIONS /x HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"DELETE", "DELETE /x/1 HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"POST without body", "POST /form HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"extension method", "PURGE /x HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"lowercase method", "get / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"odd-case Host", "GET / HTTP/1.1\r\nhOsT: x\r\n\r\n"},
	{"lowercase names", "GET / HTTP/1.1\r\nhost: x\r\nuser-agent: u\r\naccept-encoding: gzip\r\nx-custom-thing: 1\r\n\r\n"},
	{"uppercase names", "GET / HTTP/1.1\r\nHOST: x\r\nX-FORWARDED-FOR: 10.0.0.1\r\n\r\n"},
	{"underscore name", "GET / HTTP/1.1\r\nHost: x\r\nx_under_score: 1\r\n\r\n"},
	{"token symbols in name", "GET / HTTP/1.1\r\nHost: x\r\nX!#$%&'*+.^_`|~: 1\r\n\r\n"},
	{"digit-led name", "GET / HTTP/1.1\r\nHost: x\r\n1-x: 1\r\n\r\n"},
	{"8-bit value", "GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9\xff\r\n\r\n"},
	{"Trailer without chunking", "GET / HTTP/1.1\r\nHost: x\r\nTrailer: X\r\n\r\n"},
	{"Expect", "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n"},
	{"Upgrade h2c", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"},
	{"pipelined", wrkHead + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"pipelined partial", wrkHead + "GET /next HT"},
	{"followed by a body-like rest", wrkHead + "\r\n\r\nxyz"},
	{"seventeen headers", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Many: v\r\nX-Other: w\r\n", 8) + "\r\n"},
	{"many distinct headers", "GET / HTTP/1.1\r\nHost: x\r\n" + manyHeaders(40) + "\r\n"},
}

// otherHeads are heads the fast path must leave to http.ReadRequest, which
// parses some of them and refuses the rest.
var otherHeads = []struct{ name, head string }{
	{"bare LF", "GET / HTTP/1.1\nHost: x\n\n"},
	{"bare LF in one header line", "GET / HTTP/1.1\r\nHost: x\nAccept: a\r\n\r\n"},
	{"bare LF after request line", "GET / HTTP/1.1\nHost: x\r\n\r\n"},
	{"bare CR in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n"},
	{"CR CR LF", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\r\n\r\n"},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n"},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n"},
	{"control in Host", "GET / HTTP/1.1\r\nHost: x\x01\r\n\r\n"},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n"},
	{"obs-fold with tab", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n\tb\r\n\r\n"},
	{"first header line folded", "GET / HTTP/1.1\r\n X: a\r\nHost: x\r\n\r\n"},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"},
	{"two Hosts differently cased", "GET / HTTP/1.1\r\nHost: x\r\nhost: x\r\n\r\n"},
	{"no Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"},
	{"no headers", "GET / HTTP/1.1\r\n\r\n"},
	{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n"},
	{"Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"},
	{"Content-Length 0", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
	{"content-length lowercase", "GET / HTTP/1.1\r\nHost: x\r\ncontent-length: 0\r\n\r\n"},
	{"bad Content-Length", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n"},
	{"Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"TRANSFER-ENCODING uppercase", "POST / HTTP/1.1\r\nHost: x\r\nTRANSFER-ENCODING: chunked\r\n\r\n0\r\n\r\n"},
	{"Transfer-Encoding on HTTP/1.0", "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"Pragma", "GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n"},
	{"percent escape", "GET /a%20b HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"bad percent escape", "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"percent in query", "GET /a?b=%41 HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"fragment", "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"absolute-form", "GET http://y/a HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"double slash", "GET //a/b HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"relative target", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"empty target", "GET  HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"8-bit target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"brackets in target", "GET /a[b] HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"quote in target", "GET /a\"b HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"tab in target", "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"CONNECT", "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n"},
	{"CONNECT with path", "CONNECT /rpc HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"PRI", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
	{"PRI over HTTP/1.1", "PRI / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n"},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n"},
	{"HTTP/0.9 style", "GET /\r\n\r\n"},
	{"lowercase version", "GET / http/1.1\r\nHost: x\r\n\r\n"},
	{"trailing space after version", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n"},
	{"two spaces after method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"invalid method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"empty method", " / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"leading CRLF", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n"},
	{"space in name", "GET / HTTP/1.1\r\nHost: x\r\nX Y: 1\r\n\r\n"},
	{"empty name", "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n"},
	{"no colon", "GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n"},
	{"8-bit name", "GET / HTTP/1.1\r\nHost: x\r\nX-\xc3\xa9: 1\r\n\r\n"},
	{"separator in name", "GET / HTTP/1.1\r\nHost: x\r\nX(Y): 1\r\n\r\n"},
	{"long name", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("N", 200) + ": 1\r\n\r\n"},
	{"too many headers", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X: v\r\n", 70) + "\r\n"},
	{"incomplete head", "GET / HTTP/1.1\r\nHost: x\r\n"},
	{"incomplete request line", "GET / HTTP/1.1"},
	{"empty", ""},
}

func manyHeaders(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("X-H")
		b.WriteByte(byte('a' + i%26))
		b.WriteByte(byte('a' + i/26))
		b.WriteString(": v\r\n")
	}
	return b.String()
}

func TestReadSimpleRequestTakesSimpleHeads(t *testing.T) {
	for _, tt := range simpleHeads {
		t.Run(tt.name, func(t *testing.T) {
			if !checkSimpleRequest(t, []byte(tt.head), 0) {
				t.Error("declined a simple head")
			}
		})
	}
}

func TestReadSimpleRequestLeavesOtherHeads(t *testing.T) {
	for _, tt := range otherHeads {
		t.Run(tt.name, func(t *testing.T) {
			if checkSimpleRequest(t, []byte(tt.head), 0) {
				t.Error("took a head it must leave to net/http")
			}
		})
	}
}

func TestReadSimpleRequestWaitsForWholeHead(t *testing.T) {
	for _, head := range []string{wrkHead, browserHead} {
		for _, split := range []int{1, len(head) / 2, len(head) - 1} {
			if checkSimpleRequest(t, []byte(head), split) {
				t.Errorf("took %q with only %d bytes buffered", head, split)
			}
		}
	}
}

func FuzzReadSimpleRequest(f *testing.F) {
	for _, tt := range simpleHeads {
		f.Add([]byte(tt.head), uint16(0))
	}
	for _, tt := range otherHeads {
		f.Add([]byte(tt.head), uint16(0))
	}
	f.Add([]byte(wrkHead), uint16(10))
	f.Fuzz(func(t *testing.T, head []byte, split uint16) {
		checkSimpleRequest(t, head, int(split))
	})
}

// checkSimpleRequest runs readSimpleRequest and http.ReadRequest over the
// same bytes, split (when above 0) records the first read, so that only
// that much is buffered, and reports whether the fast path took them. A
// request it takes must be net/http's, to the unexported fields, and leave
// the same bytes unread; a declined head must be left untouched. It does
// so twice: into new memory, and into a request that a handler has used
// (Options.ReuseRequests).
func checkSimpleRequest(t *testing.T, head []byte, split int) bool {
	t.Helper()
	took := checkSimpleRequestInto(t, head, split, nil)
	if checkSimpleRequestInto(t, head, split, usedSimpleRequest(t)) != took {
		t.Fatalf("%q: taken into new memory %v, but not into a used request", head, took)
	}
	return took
}

// usedSimpleRequest returns a request read from a head with a query, a
// repeated header and more header lines than most, to which a handler then
// added a header: what ReuseRequests reads the next request into.
func usedSimpleRequest(t *testing.T) *simpleRequest {
	t.Helper()
	r := new(simpleRequest)
	br := bufio.NewReader(strings.NewReader("GET /used/path?q=1 HTTP/1.1\r\nHost: used.example\r\n" +
		"Accept: */*\r\nX-A: 1\r\nX-A: 2\r\nCookie: c=1\r\nX-B: b\r\nConnection: close\r\n\r\n"))
	br.Peek(1)
	if _, ok := readSimpleRequest(br, r); !ok {
		t.Fatal("the used request's head is not simple")
	}
	r.req.Header.Set("X-Forwarded-For", "192.0.2.1")
	return r
}

func checkSimpleRequestInto(t *testing.T, head []byte, split int, into *simpleRequest) bool {
	t.Helper()
	got, br := readSplit(head, split, func(br *bufio.Reader) (*http.Request, bool) {
		return readSimpleRequest(br, into)
	})
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		if !bytes.Equal(rest, head) {
			t.Fatalf("declined %q but consumed %d bytes", head, len(head)-len(rest))
		}
		return false
	}

	want, wbr := readSplit(head, split, func(br *bufio.Reader) (*http.Request, bool) {
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("took %q, which http.ReadRequest refuses: %v", head, err)
		}
		return req, true
	})
	wrest, err := io.ReadAll(wbr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rest, wrest) {
		t.Errorf("%q: left %q, net/http leaves %q", head, rest, wrest)
	}
	u, err := url.ParseRequestURI(got.RequestURI)
	if err != nil || !reflect.DeepEqual(got.URL, u) {
		t.Errorf("%q: URL %#v, url.ParseRequestURI gives %#v, %v", head, got.URL, u, err)
	}
	if got.Body != http.NoBody {
		t.Errorf("%q: Body %T, want http.NoBody", head, got.Body)
	}
	if b, _ := io.ReadAll(want.Body); len(b) != 0 {
		t.Errorf("%q: net/http reads a body %q", head, b)
	}
	fields := []struct {
		name      string
		got, want any
	}{
		{"Method", got.Method, want.Method},
		{"URL", got.URL, want.URL},
		{"Proto", got.Proto, want.Proto},
		{"ProtoMajor", got.ProtoMajor, want.ProtoMajor},
		{"ProtoMinor", got.ProtoMinor, want.ProtoMinor},
		{"Header", got.Header, want.Header},
		{"Host", got.Host, want.Host},
		{"RequestURI", got.RequestURI, want.RequestURI},
		{"Close", got.Close, want.Close},
		{"ContentLength", got.ContentLength, want.ContentLength},
		{"TransferEncoding", got.TransferEncoding, want.TransferEncoding},
		{"Trailer", got.Trailer, want.Trailer},
	}
	for _, f := range fields {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("%q: %s %#v, net/http %#v", head, f.name, f.got, f.want)
		}
	}
	if !reflect.DeepEqual(*got, *want) {
		t.Errorf("%q: request differs from net/http's:\n%#v\n%#v", head, *got, *want)
	}
	return true
}

// readSplit runs read on a reader over head that holds split bytes, or
// all of head when split is 0 or beyond it.
func readSplit(head []byte, split int, read func(*bufio.Reader) (*http.Request, bool)) (*http.Request, *bufio.Reader) {
	if split <= 0 || split > len(head) {
		split = len(head)
	}
	br := bufio.NewReader(&splitReader{head[:split:split], head[split:]})
	br.Peek(1)
	req, ok := read(br)
	if !ok {
		return nil, br
	}
	return req, br
}

// splitReader returns its first part with one read and the rest with the
// next, as a head split across TCP segments arrives.
type splitReader struct{ first, rest []byte }

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.first) == 0 {
		r.first, r.rest = r.rest, nil
		if len(r.first) == 0 {
			return 0, io.EOF
		}
	}
	n := copy(p, r.first)
	r.first = r.first[n:]
	return n, nil
}

func BenchmarkReadRequest(b *testing.B) {
	var spare simpleRequest // ReuseRequests: every request read into the one before
	parsers := []struct {
		name string
		read func(*bufio.Reader) (*http.Request, bool)
	}{
		{"net_http", func(br *bufio.Reader) (*http.Request, bool) {
			req, err := http.ReadRequest(br)
			return req, err == nil
		}},
		{"simple", func(br *bufio.Reader) (*http.Request, bool) { return readSimpleRequest(br, nil) }},
		{"simple_reused", func(br *bufio.Reader) (*http.Request, bool) { return readSimpleRequest(br, &spare) }},
	}
	heads := []struct{ name, head string }{{"wrk", wrkHead}, {"browser", browserHead}}
	for _, p := range parsers {
		for _, h := range heads {
			b.Run(p.name+"/"+h.name, func(b *testing.B) {
				src := strings.NewReader(h.head)
				br := bufio.NewReader(src)
				b.ReportAllocs()
				b.SetBytes(int64(len(h.head)))
				for b.Loop() {
					src.Reset(h.head)
					br.Reset(src)
					br.Peek(1)
					if _, ok := p.read(br); !ok {
						b.Fatal("not read")
					}
				}
			})
		}
	}
}
