package balance

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"strconv"
)

// responseHead is an upstream's response head taken as bytes, for the
// responses a proxy sees most: a final status, a Content-Length, no
// Transfer-Encoding. The lines a proxy passes on are kept as they came, so
// no header map, no string per field and no second serialisation is made
// for them; parseResponseHead leaves every other response to net/http's
// parser. It lives in the proxied exchange (exchangeState), with the
// response made from it, and is valid until the response's body is read or
// closed.
//
// A caller that can use one passes it down to the connection with the
// names to drop; parsed tells it whether the connection filled it.
type responseHead struct {
	wanted bool     // the caller takes a parsed head
	drop   []string // canonical field names to remove, set by the caller
	parsed bool     // the connection filled the fields below

	// informational receives 1xx responses, as an httptrace hook would.
	informational func(code int, header textproto.MIMEHeader) error

	code          int
	contentLength int64 // for the client; -1 when unknown or not sent
	bodyLength    int64 // the bytes of body that follow the head
	close         bool  // the upstream asked to close the connection
	hasDate       bool
	eventStream   bool
	// lines are the end-to-end fields, each "Name: value\r\n" as the
	// upstream wrote it, without the framing, hop-by-hop and dropped ones.
	lines []byte

	// response is what the connection returns for a parsed head: it lives
	// here, with the exchange, instead of in an allocation of its own.
	response parsedResponse
}

// headerField names the fields the head parser treats specially.
type headerField int

const (
	fieldOther headerField = iota
	fieldContentLength
	fieldTransferEncoding
	fieldConnection
	fieldHopByHop // removed, as ReverseProxy removes them
	fieldDate
	fieldContentType
	fieldDropped // a name the pool's hooks remove
)

// readResponseHead parses the response head waiting in br, if it is whole
// in the buffer and simple enough, and consumes it. It reports false,
// consuming nothing, for anything else: a head split across reads, an
// informational or HTTP/1.0 response, chunked or close-delimited bodies,
// obsolete line folding, fields net/http would reject. net/http's parser
// then reads the same bytes and decides, so rampart accepts no response
// net/http would not. Fields named in head.drop are left out.
func readResponseHead(br *bufio.Reader, head *responseHead, isHEAD bool) bool {
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, crlfcrlf)
	if end < 0 {
		return false
	}
	if !parseResponseHead(buf[:end+2], head, isHEAD) {
		return false
	}
	br.Discard(end + 4)
	return true
}

var crlfcrlf = []byte("\r\n\r\n")

// parseResponseHead parses head, the status line and fields each ending in
// CRLF, into h.
func parseResponseHead(buf []byte, h *responseHead, isHEAD bool) bool {
	*h = responseHead{wanted: h.wanted, drop: h.drop, informational: h.informational, lines: h.lines[:0], contentLength: -1}
	// "HTTP/1.1 200 OK\r\n": 1.0 and 1xx responses have rules of their own.
	if len(buf) < 14 || string(buf[:9]) != "HTTP/1.1 " {
		return false
	}
	code := 0
	for _, c := range buf[9:12] {
		if c < '0' || c > '9' {
			return false
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || (buf[12] != ' ' && buf[12] != '\r') {
		return false
	}
	h.code = code
	eol := bytes.IndexByte(buf, '\n')
	if eol < 0 || buf[eol-1] != '\r' || !validText(buf[12:eol-1]) {
		return false
	}
	length, lengthText := int64(-1), []byte(nil)
	for rest := buf[eol+1:]; len(rest) > 0; {
		eol := bytes.IndexByte(rest, '\n')
		if eol < 1 || rest[eol-1] != '\r' {
			return false
		}
		line := rest[:eol+1]
		rest = rest[eol+1:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validTokenBytes(line[:colon]) {
			return false // also obs-fold, whose line starts with a space
		}
		value := trimOWS(line[colon+1 : eol-1])
		if !validText(value) {
			return false
		}
		switch classifyField(line[:colon], h.drop) {
		case fieldContentLength:
			// Repeats must be the same text, as net/http requires.
			n, ok := parseLength(value)
			if !ok || (lengthText != nil && !bytes.Equal(value, lengthText)) {
				return false
			}
			length, lengthText = n, value
			continue
		case fieldTransferEncoding:
			return false
		case fieldConnection:
			switch {
			case equalFoldBytes(value, "close"):
				h.close = true
			case equalFoldBytes(value, "keep-alive"):
			default:
				return false // it may name fields to remove
			}
			continue
		case fieldHopByHop, fieldDropped:
			continue
		case fieldDate:
			h.hasDate = true
		case fieldContentType:
			if code == 304 {
				continue // as net/http's server: a 304 has no content
			}
			h.eventStream = isEventStreamBytes(value)
		}
		h.lines = append(h.lines, line...)
	}
	switch {
	case code == 204 || code == 304:
		// No body follows, whatever a length says.
	case isHEAD:
		h.contentLength = length // no body follows; the client learns its length
	case length < 0:
		return false // the body ends when the connection does
	default:
		h.contentLength = length
		h.bodyLength = length
	}
	h.parsed = true
	return true
}

func classifyField(name []byte, drop []string) headerField {
	// A hook may drop any end-to-end field; framing and hop-by-hop ones
	// are the proxy's to handle.
	for _, d := range drop {
		if equalFoldBytes(name, d) && !framingOrHop(d) {
			return fieldDropped
		}
	}
	switch len(name) {
	case 2:
		if equalFoldBytes(name, "te") {
			return fieldHopByHop
		}
	case 4:
		if equalFoldBytes(name, "date") {
			return fieldDate
		}
	case 7:
		if equalFoldBytes(name, "trailer") || equalFoldBytes(name, "upgrade") {
			return fieldHopByHop
		}
	case 10:
		if equalFoldBytes(name, "connection") {
			return fieldConnection
		}
		if equalFoldBytes(name, "keep-alive") {
			return fieldHopByHop
		}
	case 12:
		if equalFoldBytes(name, "content-type") {
			return fieldContentType
		}
	case 14:
		if equalFoldBytes(name, "content-length") {
			return fieldContentLength
		}
	case 16:
		if equalFoldBytes(name, "proxy-connection") {
			return fieldHopByHop
		}
	case 17:
		if equalFoldBytes(name, "transfer-encoding") {
			return fieldTransferEncoding
		}
	case 18:
		if equalFoldBytes(name, "proxy-authenticate") {
			return fieldHopByHop
		}
	case 19:
		if equalFoldBytes(name, "proxy-authorization") {
			return fieldHopByHop
		}
	}
	return fieldOther
}

// framingOrHop reports whether the canonical name k is a framing or
// hop-by-hop field, which RemoveResponseHeaders does not govern on this
// path.
func framingOrHop(k string) bool {
	switch k {
	case "Content-Length", "Transfer-Encoding", "Connection":
		return true
	}
	for _, h := range hopHeaders {
		if k == h {
			return true
		}
	}
	return false
}

// equalFoldBytes is strings.EqualFold for an ASCII b and s, without
// converting b.
func equalFoldBytes(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func validTokenBytes(b []byte) bool {
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return len(b) > 0
}

// validText reports whether b holds no control character but tab: a field
// value or a reason phrase. Bytes from 0x80 up pass, as in net/http.
func validText(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseLength parses a Content-Length value: digits only, as net/http.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func isEventStreamBytes(v []byte) bool {
	if i := bytes.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return equalFoldBytes(trimOWS(v), "text/event-stream")
}

// addTo adds the head's fields to h, for a ResponseWriter that cannot take
// them as bytes, with the Content-Length the lines leave out.
func (h *responseHead) addTo(dst http.Header) {
	for rest := h.lines; len(rest) > 0; {
		eol := bytes.IndexByte(rest, '\n')
		line := rest[:eol-1]
		rest = rest[eol+1:]
		colon := bytes.IndexByte(line, ':')
		k := http.CanonicalHeaderKey(string(line[:colon]))
		dst[k] = append(dst[k], string(trimOWS(line[colon+1:])))
	}
	if h.contentLength >= 0 {
		dst["Content-Length"] = []string{strconv.FormatInt(h.contentLength, 10)}
	}
}

// statusTexts are Response.Status for the codes a parsed head can have, made
// once: "200 OK". The upstream's own reason phrase is not kept.
var statusTexts = func() (t [400]string) {
	for i := range t {
		code := 200 + i
		t[i] = strconv.Itoa(code) + " " + http.StatusText(code)
	}
	return t
}()

func statusText(code int) string {
	if code >= 200 && code < 600 {
		return statusTexts[code-200]
	}
	return strconv.Itoa(code)
}
