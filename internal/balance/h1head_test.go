package balance

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// responseHeadCases are upstream responses, each followed by the start of
// whatever the connection carries next. accept says whether the head
// parser must take it (the cheap path must really fire for the usual ones).
var responseHeadCases = []struct {
	name   string
	raw    string
	head   bool // the request was HEAD
	accept bool
}{
	{"plain", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nDate: Sun, 29 Nov 2026 04:00:00 GMT\r\n\r\nhelloNEXT", false, true},
	{"no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false, true},
	{"odd reason", "HTTP/1.1 404 Nope nope\r\nContent-Length: 3\r\n\r\nabc", false, true},
	{"owned headers dropped", "HTTP/1.1 200 OK\r\nX-Request-Id: up\r\nstrict-transport-security: max-age=1\r\nX-Kept: 1\r\nContent-Length: 2\r\n\r\nok", false, true},
	{"hop-by-hop dropped", "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive\r\nProxy-Connection: x\r\nTe: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nProxy-Authenticate: Basic\r\nContent-Length: 1\r\n\r\nx", false, true},
	{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", false, true},
	{"connection CLOSE", "HTTP/1.1 200 OK\r\nConnection: CLOSE\r\nContent-Length: 1\r\n\r\nx", false, true},
	{"repeated fields keep order", "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nset-cookie: c=3\r\nContent-Length: 0\r\n\r\n", false, true},
	{"spaces around values", "HTTP/1.1 200 OK\r\nX-A:   spaced \t \r\nX-B:\ttab\r\nX-C:\r\nContent-Length:  4 \r\n\r\nbody", false, true},
	{"same length twice", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", false, true},
	{"head with length", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", true, true},
	{"head without length", "HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n", true, true},
	{"204 with length", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\nNEXT", false, true},
	{"304 drops content-type", "HTTP/1.1 304 Not Modified\r\nContent-Type: text/html\r\nETag: \"x\"\r\n\r\n", false, true},
	{"event stream", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nContent-Length: 6\r\n\r\ndata:1", false, true},
	{"8-bit value", "HTTP/1.1 200 OK\r\nX-Name: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n", false, true},
	{"empty body 500", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", false, true},

	// Declined: net/http's parser decides.
	{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false, false},
	{"close-delimited", "HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nuntil eof", false, false},
	{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false, false},
	{"100 continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false, false},
	{"103 early hints", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, false},
	{"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false, false},
	{"connection names a field", "HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: 1\r\nContent-Length: 0\r\n\r\n", false, false},
	{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", false, false},
	{"one length spelt two ways", "HTTP/1.1 200 OK\r\nContent-Length: 05\r\nContent-Length: 5\r\n\r\nhello", false, false},
	{"signed length", "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc", false, false},
	{"obs-fold", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n", false, false},
	{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", false, false},
	{"bare LF in a field", "HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 0\r\n\r\n", false, false},
	{"space before colon", "HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n", false, false},
	{"NUL in value", "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n", false, false},
	{"CR in value", "HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n", false, false},
	{"bad code", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", false, false},
	{"four-digit code", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", false, false},
	{"head cut short", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", false, false},
	{"garbage", "SSH-2.0-OpenSSH_9.2\r\n\r\n", false, false},
}

// dropForTest holds a name the head parser also looks at for itself (Date),
// so that a hook can remove those too.
var dropForTest = []string{"X-Request-Id", "Strict-Transport-Security", "Date"}

// TestResponseHeadMatchesNetHTTP holds the head parser against
// http.ReadResponse followed by what the proxy does to a response: for
// every head it takes, the client must get the same status, fields,
// length and body, and the connection the same state; a head it declines
// must be left unread.
func TestResponseHeadMatchesNetHTTP(t *testing.T) {
	for _, tc := range responseHeadCases {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodGet
			if tc.head {
				method = http.MethodHead
			}
			req, _ := http.NewRequest(method, "http://upstream/", nil)
			br := bufio.NewReaderSize(strings.NewReader(tc.raw), 4096)
			br.Peek(1)
			buffered := br.Buffered()
			h := &responseHead{wanted: true, drop: dropForTest}
			ok := readResponseHead(br, h, tc.head)
			if ok != tc.accept {
				t.Fatalf("accepted %v, want %v", ok, tc.accept)
			}
			if !ok {
				if br.Buffered() != buffered {
					t.Fatalf("declined but consumed %d bytes", buffered-br.Buffered())
				}
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(tc.raw)), req)
			if err != nil {
				t.Fatalf("accepted a response net/http refuses: %v", err)
			}
			if h.code != resp.StatusCode {
				t.Errorf("code %d, net/http %d", h.code, resp.StatusCode)
			}
			if h.close != resp.Close {
				t.Errorf("close %v, net/http %v", h.close, resp.Close)
			}
			want := resp.Header.Clone()
			removeHopByHop(want)
			removeHeaders(want, dropForTest)
			if resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
				delete(want, "Content-Length") // never sent for these
			}
			if resp.StatusCode == http.StatusNotModified {
				delete(want, "Content-Type") // net/http's server drops it
			}
			got := http.Header{}
			h.addTo(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("fields\n got %v\nwant %v", got, want)
			}
			wantBody, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			gotBody := make([]byte, h.bodyLength)
			if _, err := io.ReadFull(br, gotBody); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(gotBody, wantBody) {
				t.Errorf("body %q, net/http %q", gotBody, wantBody)
			}
			if strings.Contains(tc.raw, "NEXT") {
				rest, _ := io.ReadAll(br)
				if string(rest) != "NEXT" {
					t.Errorf("left %q on the connection, want NEXT", rest)
				}
			}
		})
	}
}

// A head larger than what is buffered is declined, not read in parts.
func TestResponseHeadSplitAcrossReads(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\nContent-Length: 0\r\n\r\n"
	br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
	br.Peek(1)
	h := &responseHead{wanted: true}
	if readResponseHead(br, h, false) {
		t.Fatal("took a head that is not whole in the buffer")
	}
	if _, err := http.ReadResponse(br, nil); err != nil {
		t.Fatalf("the declined head no longer parses: %v", err)
	}
}

func BenchmarkResponseHead(b *testing.B) {
	raw := "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Sun, 29 Nov 2026 04:00:00 GMT\r\nX-Bench-Backend: web-1\r\nContent-Length: 128\r\n\r\n" + strings.Repeat("x", 128)
	req, _ := http.NewRequest(http.MethodGet, "http://upstream/", nil)
	b.Run("net_http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
		}
	})
	b.Run("parsed", func(b *testing.B) {
		b.ReportAllocs()
		h := &responseHead{wanted: true, drop: dropForTest}
		br := bufio.NewReader(nil)
		for b.Loop() {
			br.Reset(strings.NewReader(raw))
			br.Peek(1)
			if !readResponseHead(br, h, false) {
				b.Fatal("declined")
			}
			br.Discard(int(h.bodyLength))
		}
	})
}
