package serve

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"

	"golang.org/x/net/http/httpguts"
)

// readSimpleRequest parses the request head waiting whole in br when it is
// simple: a bodyless HTTP/1.0 or 1.1 request for an origin-form target of
// plain bytes, with CRLF lines, one Host and plain header lines. Its
// request is the one http.ReadRequest would return for the same bytes, at
// a fraction of the allocations: the head is copied into one string that
// every name and value is cut from. For anything else, or a head not yet
// buffered whole, it returns false and consumes nothing, and
// http.ReadRequest parses the bytes and decides; that is also why it
// declines rather than refuses: an error is net/http's to give.
//
// into, when not nil, is a request of the same connection that is done
// with (Options.ReuseRequests): the request is read into it, and into
// its header map, instead of new memory.
func readSimpleRequest(br *bufio.Reader, into *simpleRequest) (*http.Request, bool) {
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, crlfcrlf)
	if end < 0 {
		return nil, false
	}
	end += 4
	head := buf[:end]

	// Request line. The head ends in CRLF CRLF, so a scan that stops at
	// any byte outside its set stays inside it.
	i := 0
	for tchar[head[i]] {
		i++
	}
	method := head[:i]
	if i == 0 || head[i] != ' ' || string(method) == "CONNECT" || string(method) == "PRI" {
		return nil, false
	}
	targetLo := i + 1
	i = targetLo
	query := -1 // the first '?'
	rawPath := false
	for targetChar[head[i]] {
		switch head[i] {
		case '?':
			if query < 0 {
				query = i
			}
		case '!', '\'', '(', ')', '*':
			// url.URL.setPath keeps a path with these as RawPath:
			// its escaping would change them.
			if query < 0 {
				rawPath = true
			}
		}
		i++
	}
	targetHi := i
	if head[targetLo] != '/' || head[targetLo+1] == '/' {
		return nil, false
	}
	proto, minor := "", 0
	switch string(head[i:min(i+11, len(head))]) {
	case " HTTP/1.1\r\n":
		proto, minor = "HTTP/1.1", 1
	case " HTTP/1.0\r\n":
		proto, minor = "HTTP/1.0", 0
	default:
		return nil, false
	}
	i += 11

	// Header lines, checked and measured before anything is allocated,
	// so that a declined head costs only the scan.
	var lines [maxSimpleHeaders]simpleHeader
	var key [maxSimpleName]byte // a line's canonical name
	n, hosts := 0, 0
	for i < end-2 {
		if n == len(lines) {
			return nil, false
		}
		l := &lines[n]
		canonical, upper := true, true
		j := i
		for ; tchar[head[j]]; j++ {
			if j-i == len(key) {
				return nil, false
			}
			c := head[j]
			if upper && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			} else if !upper && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			canonical = canonical && c == head[j]
			key[j-i] = c
			upper = c == '-'
		}
		// A space before the colon, an empty name or a line starting
		// with white space (obs-fold) stops here.
		if j == i || head[j] != ':' {
			return nil, false
		}
		name := key[:j-i]
		l.key = commonHeader(name)
		switch {
		case l.key == "Host":
			hosts++
		case l.key == "Content-Length", l.key == "Transfer-Encoding", l.key == "Pragma":
			return nil, false
		case l.key == "" && canonical:
			l.nameLo, l.nameHi = i, j
		case l.key == "":
			l.key = string(name)
		}
		j++
		for head[j] == ' ' || head[j] == '\t' {
			j++
		}
		l.valLo = j
		for valueChar[head[j]] {
			j++
		}
		if head[j] != '\r' || head[j+1] != '\n' {
			return nil, false // a control byte or a bare CR or LF
		}
		l.valHi = j
		for l.valHi > l.valLo && (head[l.valHi-1] == ' ' || head[l.valHi-1] == '\t') {
			l.valHi--
		}
		n++
		i = j + 2
	}
	if hosts != 1 {
		return nil, false
	}

	s := string(head)
	r := into
	if r == nil {
		r = new(simpleRequest)
	} else {
		r.release() // keeps the map's memory
	}
	h := r.header
	if h == nil {
		h = make(http.Header, n-1)
		r.header = h
	}
	r.held = true
	vals := r.vals[:]
	if n-1 > len(vals) {
		vals = make([]string, n-1)
	}
	for _, l := range lines[:n] {
		key := l.key
		if key == "" {
			key = s[l.nameLo:l.nameHi]
		}
		v := s[l.valLo:l.valHi]
		if key == "Host" {
			r.req.Host = v
			continue
		}
		if vv, ok := h[key]; ok {
			h[key] = append(vv, v)
			continue
		}
		// A name's first value gets a slice of capacity one, so that
		// appending a second one cannot overwrite the next name's.
		vals[0] = v
		h[key], vals = vals[:1:1], vals[1:]
	}

	u := &r.url
	target := s[targetLo:targetHi]
	path := target
	if query >= 0 {
		path = s[targetLo:query]
		if query == targetHi-1 {
			u.ForceQuery = true
		} else {
			u.RawQuery = s[query+1 : targetHi]
		}
	}
	u.Path = path
	if rawPath {
		u.RawPath = path
	}

	req := &r.req
	req.Method = s[:len(method)]
	req.URL = u
	req.Proto = proto
	req.ProtoMajor = 1
	req.ProtoMinor = minor
	req.Header = h
	req.RequestURI = target
	req.Body = http.NoBody
	conn := h["Connection"]
	req.Close = httpguts.HeaderValuesContainsToken(conn, "close") ||
		minor == 0 && !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	br.Discard(end)
	return req, true
}

const (
	maxSimpleHeaders = 64  // more header lines are not simple
	maxSimpleName    = 128 // nor a longer name
)

// simpleRequest puts a request, its URL and the values of a typical head
// in one allocation.
type simpleRequest struct {
	req  http.Request
	url  url.URL
	vals [16]string

	// header is the map req.Header was made as, kept for the next
	// request (Options.ReuseRequests) even if a handler replaced it.
	header http.Header
	held   bool // a request was read in and not yet released
}

// release lets go of everything the request it held refers to (its
// head, its context and, through that, its response) and empties its
// header map, so that an idle connection keeps no more than the map's
// memory for its next request.
func (r *simpleRequest) release() {
	if !r.held {
		return // already empty: the connection's loop released it
	}
	h := r.header
	clear(h)
	*r = simpleRequest{header: h}
}

// simpleHeader is one header line of a head, by offsets into it.
type simpleHeader struct {
	key            string // canonical; empty when the line spells it already
	nameLo, nameHi int
	valLo, valHi   int
}

// commonHeader returns the constant for a canonical name that requests
// often carry, so that a client that spells it in another case costs no
// allocation, and so that the names readSimpleRequest declines are found.
func commonHeader(name []byte) string {
	switch string(name) {
	case "Accept":
		return "Accept"
	case "Accept-Charset":
		return "Accept-Charset"
	case "Accept-Encoding":
		return "Accept-Encoding"
	case "Accept-Language":
		return "Accept-Language"
	case "Authorization":
		return "Authorization"
	case "Cache-Control":
		return "Cache-Control"
	case "Connection":
		return "Connection"
	case "Content-Length":
		return "Content-Length"
	case "Content-Type":
		return "Content-Type"
	case "Cookie":
		return "Cookie"
	case "Dnt":
		return "Dnt"
	case "Forwarded":
		return "Forwarded"
	case "Host":
		return "Host"
	case "If-Match":
		return "If-Match"
	case "If-Modified-Since":
		return "If-Modified-Since"
	case "If-None-Match":
		return "If-None-Match"
	case "If-Range":
		return "If-Range"
	case "Keep-Alive":
		return "Keep-Alive"
	case "Origin":
		return "Origin"
	case "Pragma":
		return "Pragma"
	case "Priority":
		return "Priority"
	case "Range":
		return "Range"
	case "Referer":
		return "Referer"
	case "Sec-Ch-Ua":
		return "Sec-Ch-Ua"
	case "Sec-Ch-Ua-Mobile":
		return "Sec-Ch-Ua-Mobile"
	case "Sec-Ch-Ua-Platform":
		return "Sec-Ch-Ua-Platform"
	case "Sec-Fetch-Dest":
		return "Sec-Fetch-Dest"
	case "Sec-Fetch-Mode":
		return "Sec-Fetch-Mode"
	case "Sec-Fetch-Site":
		return "Sec-Fetch-Site"
	case "Sec-Fetch-User":
		return "Sec-Fetch-User"
	case "Te":
		return "Te"
	case "Traceparent":
		return "Traceparent"
	case "Tracestate":
		return "Tracestate"
	case "Transfer-Encoding":
		return "Transfer-Encoding"
	case "Upgrade":
		return "Upgrade"
	case "Upgrade-Insecure-Requests":
		return "Upgrade-Insecure-Requests"
	case "User-Agent":
		return "User-Agent"
	case "Via":
		return "Via"
	case "X-Forwarded-For":
		return "X-Forwarded-For"
	case "X-Forwarded-Host":
		return "X-Forwarded-Host"
	case "X-Forwarded-Proto":
		return "X-Forwarded-Proto"
	case "X-Real-Ip":
		return "X-Real-Ip"
	case "X-Request-Id":
		return "X-Request-Id"
	case "X-Requested-With":
		return "X-Requested-With"
	}
	return ""
}

// Byte classes. tchar is RFC 9110's token, as net/http checks methods and
// header names. targetChar is a conservative subset of what a path and a
// query may hold, without '%', so that a target needs no unescaping.
// valueChar is what net/http takes in a header value: HTAB, SP, visible
// ASCII and obs-text, which it keeps as sent.
var tchar, targetChar, valueChar = byteClasses()

func byteClasses() (tchar, targetChar, valueChar [256]bool) {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for _, c := range []byte(alnum + "!#$%&'*+-.^_`|~") {
		tchar[c] = true
	}
	for _, c := range []byte(alnum + "-._~!$&'()*+,;=:@/?") {
		targetChar[c] = true
	}
	for c := 0x20; c < 0x100; c++ {
		valueChar[c] = c != 0x7f
	}
	valueChar['\t'] = true
	return
}
