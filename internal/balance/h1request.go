package balance

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// defaultUserAgent is what net/http sends when a request has no User-Agent
// header; ReverseProxy sets an empty one to send none.
const defaultUserAgent = "Go-http-client/1.1"

// writeRequestHeader writes req's request line and headers to bw, as
// net/http's Request.Write would for a client, and reports whether the body
// goes chunked. Headers go out in map order: HTTP gives the order of
// different fields no meaning, and sorting them costs. Every field is
// checked, since a CR or LF in a name or value set by a hook would let it
// smuggle a request to the upstream.
func writeRequestHeader(bw *bufio.Writer, req *http.Request, hasBody bool) (chunked bool, err error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return false, fmt.Errorf("invalid method %q", method)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !validHost(host) {
		return false, fmt.Errorf("invalid Host header %q", host)
	}
	if strings.IndexFunc(req.URL.RawQuery, isCTL) >= 0 {
		return false, errors.New("control character in the request URL's query")
	}

	bw.WriteString(method)
	bw.WriteByte(' ')
	writeRequestURI(bw, req.URL)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")

	ua := defaultUserAgent
	if v, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(v) > 0 {
			ua = v[0]
		}
	}
	if ua != "" {
		if !validValue(ua) {
			return false, errors.New("invalid User-Agent header value")
		}
		bw.WriteString("User-Agent: ")
		bw.WriteString(ua)
		bw.WriteString("\r\n")
	}

	for k, vs := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue // written above or below, from the request's fields
		}
		if !validToken(k) {
			return false, fmt.Errorf("invalid header field name %q", k)
		}
		for _, v := range vs {
			if !validValue(v) {
				// Not the value: it may be a secret.
				return false, fmt.Errorf("invalid header field value for %q", k)
			}
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}

	switch {
	case hasBody && req.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), req.ContentLength, 10))
		bw.WriteString("\r\n")
	case hasBody:
		chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch:
		// As net/http: many servers want a length on these even when
		// there is no body.
		bw.WriteString("Content-Length: 0\r\n")
	}
	if req.Close && !headerHasToken(req.Header["Connection"], "close") {
		bw.WriteString("Connection: close\r\n")
	}
	_, err = bw.WriteString("\r\n")
	return chunked, err
}

// writeRequestURI writes u's path and query, escaped, as RequestURI would,
// without building the string.
func writeRequestURI(bw *bufio.Writer, u *url.URL) {
	if p := u.EscapedPath(); p != "" {
		bw.WriteString(p)
	} else {
		bw.WriteByte('/')
	}
	if u.ForceQuery || u.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(u.RawQuery)
	}
}

// headerHasToken reports whether a comma-separated header holds token,
// ignoring case.
func headerHasToken(values []string, token string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// tokenChars are the bytes of an RFC 9110 token: a method or a field name.
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}

// validValue reports whether s may be a field value: no control characters
// but tab, as net/http's Transport checks.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// validHost reports whether s may be a Host header: printable, no spaces.
// handles leaves non-ASCII hosts to net/http.
func validHost(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b >= 0x7f {
			return false
		}
	}
	return true
}

func isCTL(r rune) bool { return r < ' ' || r == 0x7f }
