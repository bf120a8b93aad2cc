// Command floorproxy is the least an HTTPS-terminating Go proxy can do per
// request, to measure what rampart's lb costs beyond it on the same
// machine (docs/performance.md, "The floor"). It is not a proxy anyone
// should run: requests alternate between the upstreams, go upstream with a
// fixed set of edge headers, and a response is trusted to carry a
// Content-Length. It parses requests with net/http's parser and writes
// each response with one write.
//
//	floorproxy -cert site.crt -key site.key -listen 127.0.0.1:19999 \
//	    -upstream 127.0.0.1:18081 -upstream 127.0.0.1:18082 [-mode M]
//
// The modes:
//
//	own      each client connection has upstream connections of its own
//	shared   one LIFO stack of idle upstream connections per upstream,
//	         shared by all clients, as rampart's pool has (the default)
//	handler  the shared mode's proxying as an http.Handler in package
//	         serve's HTTP/1.x loop, as the lb runs: the lb's client side
//	         without its pool
//
// Start the backends with `rampart-bench backend`, load it with wrk, and
// read its CPU time from /proc/PID/stat, as bench/run does for the peers.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rampart-dev/rampart/internal/serve"
)

type upstreams []string

func (u *upstreams) String() string     { return strings.Join(*u, ",") }
func (u *upstreams) Set(s string) error { *u = append(*u, s); return nil }

func main() {
	listen := flag.String("listen", "127.0.0.1:19999", "HTTPS address")
	certFile := flag.String("cert", "", "certificate (PEM)")
	keyFile := flag.String("key", "", "private key (PEM)")
	mode := flag.String("mode", "shared", "own, shared or handler")
	var ups upstreams
	flag.Var(&ups, "upstream", "backend host:port (repeat)")
	flag.Parse()
	if err := run(*listen, *certFile, *keyFile, *mode, ups); err != nil {
		fmt.Fprintln(os.Stderr, "floorproxy:", err)
		os.Exit(1)
	}
}

func run(listen, certFile, keyFile, mode string, ups []string) error {
	if len(ups) == 0 {
		return fmt.Errorf("no -upstream")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	switch mode {
	case "own", "shared":
	case "handler":
		p := &pool{addrs: ups, idle: make(map[string][]*upstream)}
		return serve.Run(context.Background(), ln, http.HandlerFunc(p.serveHTTP), serve.Options{TLS: cfg, OwnHTTP1: true})
	default:
		return fmt.Errorf("-mode %q: want own, shared or handler", mode)
	}
	p := &pool{addrs: ups, idle: make(map[string][]*upstream), own: mode == "own"}
	tln := tls.NewListener(ln, cfg)
	for {
		c, err := tln.Accept()
		if err != nil {
			return err
		}
		go p.serveConn(c)
	}
}

type upstream struct {
	c  net.Conn
	br *bufio.Reader
}

// pool hands out upstream connections: from a shared LIFO stack per
// upstream, or, with own, the client connection's own (see serveConn).
type pool struct {
	addrs []string
	own   bool
	next  atomic.Uint64

	mu   sync.Mutex
	idle map[string][]*upstream
}

func (p *pool) get(addr string) (*upstream, error) {
	p.mu.Lock()
	if s := p.idle[addr]; len(s) > 0 {
		u := s[len(s)-1]
		p.idle[addr] = s[:len(s)-1]
		p.mu.Unlock()
		return u, nil
	}
	p.mu.Unlock()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &upstream{c, bufio.NewReaderSize(c, 4096)}, nil
}

func (p *pool) put(addr string, u *upstream) {
	p.mu.Lock()
	p.idle[addr] = append(p.idle[addr], u)
	p.mu.Unlock()
}

// exchange sends req to u and reads the response head into head, without
// its Content-Length, which it returns.
func exchange(u *upstream, req *http.Request, out []byte, head *bytes.Buffer) (int, error) {
	out = append(out[:0], req.Method...)
	out = append(out, ' ')
	out = append(out, req.RequestURI...)
	out = append(out, " HTTP/1.1\r\nHost: "...)
	out = append(out, req.Host...)
	out = append(out, "\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Request-Id: 0123456789abcdef0123456789abcdef\r\nVia: 1.1 floor\r\n\r\n"...)
	if _, err := u.c.Write(out); err != nil {
		return 0, err
	}
	length := -1
	head.Reset()
	for {
		line, err := u.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			return length, nil
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			continue
		}
		head.Write(line)
	}
}

// serveConn is the whole proxy for one client connection, in the own and
// shared modes.
func (p *pool) serveConn(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 4096)
	bw := bufio.NewWriterSize(c, 4096)
	var mine []*upstream // the own mode's, one per upstream
	if p.own {
		for _, a := range p.addrs {
			uc, err := net.Dial("tcp", a)
			if err != nil {
				return
			}
			defer uc.Close()
			mine = append(mine, &upstream{uc, bufio.NewReaderSize(uc, 4096)})
		}
	}
	out := make([]byte, 0, 1024)
	var head bytes.Buffer
	for n := 0; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		i := n % len(p.addrs)
		var u *upstream
		if p.own {
			u = mine[i]
		} else if u, err = p.get(p.addrs[i]); err != nil {
			return
		}
		length, err := exchange(u, req, out, &head)
		if err != nil {
			return
		}
		bw.Write(head.Bytes()) // the status line and the fields
		bw.WriteString("Strict-Transport-Security: max-age=31536000; includeSubDomains\r\nX-Request-Id: 0123456789abcdef0123456789abcdef\r\nContent-Length: ")
		bw.WriteString(strconv.Itoa(length))
		bw.WriteString("\r\n\r\n")
		if length > 0 {
			if _, err := io.CopyN(bw, u.br, int64(length)); err != nil {
				return
			}
		}
		if !p.own {
			p.put(p.addrs[i], u)
		}
		if err := bw.Flush(); err != nil {
			return
		}
	}
}

// serveHTTP is the shared mode's proxying as a handler.
func (p *pool) serveHTTP(w http.ResponseWriter, req *http.Request) {
	addr := p.addrs[p.next.Add(1)%uint64(len(p.addrs))]
	u, err := p.get(addr)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	var head bytes.Buffer
	length, err := exchange(u, req, make([]byte, 0, 1024), &head)
	if err != nil {
		u.c.Close()
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	h := w.Header()
	lines := head.Bytes()
	lines = lines[bytes.IndexByte(lines, '\n')+1:] // the status line: the code is trusted to be 200
	for len(lines) > 0 {
		eol := bytes.IndexByte(lines, '\n')
		line := lines[:eol]
		lines = lines[eol+1:]
		if i := bytes.IndexByte(line, ':'); i > 0 {
			h[string(line[:i])] = []string{string(bytes.TrimSpace(line[i+1:]))}
		}
	}
	h["Strict-Transport-Security"] = []string{"max-age=31536000; includeSubDomains"}
	h["Content-Length"] = []string{strconv.Itoa(length)}
	w.WriteHeader(http.StatusOK)
	if _, err := io.CopyN(w, u.br, int64(length)); err != nil {
		u.c.Close()
		return
	}
	p.put(addr, u)
}
