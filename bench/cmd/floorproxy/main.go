// Command floorproxy is the least an HTTPS-terminating Go proxy can do per
// request, to measure what rampart's lb costs beyond it on the same
// machine (docs/performance.md, "The floor"). It is not a proxy anyone
// should run: each client connection gets its own upstream connections,
// requests alternate between them, the request goes upstream with a fixed
// set of edge headers, and a response is trusted to carry a
// Content-Length. It parses requests with net/http's parser, as rampart
// does, and writes each response with one write.
//
//	floorproxy -cert site.crt -key site.key -listen 127.0.0.1:19999 \
//	    -upstream 127.0.0.1:18081 -upstream 127.0.0.1:18082
//
// Start the backends with `rampart-bench backend`, load it with wrk, and
// read its CPU time from /proc/PID/stat, as bench/run does for the peers.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
)

type upstreams []string

func (u *upstreams) String() string     { return strings.Join(*u, ",") }
func (u *upstreams) Set(s string) error { *u = append(*u, s); return nil }

func main() {
	listen := flag.String("listen", "127.0.0.1:19999", "HTTPS address")
	certFile := flag.String("cert", "", "certificate (PEM)")
	keyFile := flag.String("key", "", "private key (PEM)")
	var ups upstreams
	flag.Var(&ups, "upstream", "backend host:port (repeat)")
	flag.Parse()
	if err := run(*listen, *certFile, *keyFile, ups); err != nil {
		fmt.Fprintln(os.Stderr, "floorproxy:", err)
		os.Exit(1)
	}
}

func run(listen, certFile, keyFile string, ups []string) error {
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
	tln := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	for {
		c, err := tln.Accept()
		if err != nil {
			return err
		}
		go serve(c, ups)
	}
}

type upstream struct {
	c  net.Conn
	br *bufio.Reader
}

func serve(c net.Conn, addrs []string) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 4096)
	bw := bufio.NewWriterSize(c, 4096)
	ups := make([]upstream, len(addrs))
	for i, a := range addrs {
		uc, err := net.Dial("tcp", a)
		if err != nil {
			return
		}
		defer uc.Close()
		ups[i] = upstream{uc, bufio.NewReaderSize(uc, 4096)}
	}
	out := make([]byte, 0, 1024)
	var head bytes.Buffer
	for n := 0; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		u := ups[n%len(ups)]
		out = append(out[:0], req.Method...)
		out = append(out, ' ')
		out = append(out, req.RequestURI...)
		out = append(out, " HTTP/1.1\r\nHost: "...)
		out = append(out, req.Host...)
		out = append(out, "\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Request-Id: 0123456789abcdef0123456789abcdef\r\nVia: 1.1 floor\r\n\r\n"...)
		if _, err := u.c.Write(out); err != nil {
			return
		}
		length := -1
		head.Reset()
		for {
			line, err := u.br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			head.Write(line)
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			}
		}
		bw.Write(head.Bytes())
		bw.WriteString("Strict-Transport-Security: max-age=31536000; includeSubDomains\r\nX-Request-Id: 0123456789abcdef0123456789abcdef\r\n\r\n")
		if length > 0 {
			if _, err := io.CopyN(bw, u.br, int64(length)); err != nil {
				return
			}
		}
		if err := bw.Flush(); err != nil {
			return
		}
	}
}
