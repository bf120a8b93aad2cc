// Command loopproxy is an experiment: the least an HTTPS-terminating Go
// proxy does per request when it is built as HAProxy is, with per-thread
// event loops instead of a goroutine per connection. Each loop is a
// goroutine locked to its OS thread with its own epoll instance, and it
// owns its client connections and its upstream connections outright: a
// ready connection waits only for its own loop, never in a Go run queue
// behind a thread the kernel has taken off the CPU. crypto/tls runs over
// the non-blocking sockets (a read with nothing to read is a temporary
// error, which crypto/tls keeps no record of; writes are buffered and
// flushed by the loop). TLS handshakes run in ordinary goroutines, on
// blocking sockets, before a connection is handed to a loop.
//
// It is not a proxy anyone should run. It serves keep-alive, bodyless
// requests only, sends them upstream with a fixed set of edge headers,
// trusts every response to carry a Content-Length, and has no timeouts.
// docs/performance.md ("What is left") compares it with HAProxy and
// rampart's lb under the same load.
//
//	loopproxy -cert site.crt -key site.key -listen 127.0.0.1:19998 \
//	    -upstream 127.0.0.1:18081 -upstream 127.0.0.1:18082 [-loops 2]
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:19998", "HTTPS address")
	certFile := flag.String("cert", "", "certificate (PEM)")
	keyFile := flag.String("key", "", "private key (PEM)")
	loops := flag.Int("loops", runtime.NumCPU(), "event loops, each on its own OS thread")
	var ups []string
	flag.Func("upstream", "backend host:port (repeat)", func(s string) error { ups = append(ups, s); return nil })
	flag.Parse()
	if err := run(context.Background(), *listen, *certFile, *keyFile, *loops, ups, nil); err != nil {
		fmt.Fprintln(os.Stderr, "loopproxy:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends; ready, when set, receives the listening
// address once connections are accepted.
func run(ctx context.Context, listen, certFile, keyFile string, loops int, ups []string, ready chan<- string) error {
	if len(ups) == 0 {
		return fmt.Errorf("no -upstream")
	}
	if loops < 1 {
		return fmt.Errorf("-loops %d: at least 1", loops)
	}
	var addrs []*syscall.SockaddrInet4
	for _, u := range ups {
		a, err := net.ResolveTCPAddr("tcp4", u)
		if err != nil {
			return fmt.Errorf("-upstream %s: %w", u, err)
		}
		sa := &syscall.SockaddrInet4{Port: a.Port}
		copy(sa.Addr[:], a.IP.To4())
		addrs = append(addrs, sa)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	ln, err := net.Listen("tcp4", listen)
	if err != nil {
		return err
	}
	// The listener's own file: accepted sockets then never enter Go's
	// poller, and belong to the loops alone.
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		return err
	}
	defer ln.Close()
	defer lf.Close()
	lfd := int(lf.Fd()) // File leaves the descriptor in blocking mode
	var ls []*loop
	var stopped sync.WaitGroup
	defer func() {
		for _, l := range ls {
			l.stop()
		}
		stopped.Wait()
	}()
	for i := 0; i < loops; i++ {
		l, err := newLoop(addrs, i)
		if err != nil {
			return err
		}
		ls = append(ls, l)
		stopped.Go(l.run)
	}
	// Shutting the socket down ends a blocked accept.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			syscall.Shutdown(lfd, syscall.SHUT_RDWR)
		case <-done:
		}
	}()
	if ready != nil {
		ready <- ln.Addr().String()
	}
	for n := 0; ; n++ {
		fd, _, err := syscall.Accept4(lfd, syscall.SOCK_CLOEXEC)
		switch {
		case ctx.Err() != nil:
			if err == nil {
				syscall.Close(fd)
			}
			return nil
		case err == syscall.EINTR || err == syscall.ECONNABORTED:
			continue
		case err != nil:
			return fmt.Errorf("accept: %w", err)
		}
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		go handshake(fd, ls[n%len(ls)], cfg)
	}
}

// handshake completes TLS on a blocking socket in its own goroutine, then
// hands the connection to loop l.
func handshake(fd int, l *loop, cfg *tls.Config) {
	raw := &fdConn{fd: fd, blocking: true}
	tc := tls.Server(raw, cfg)
	if err := tc.Handshake(); err != nil {
		syscall.Close(fd)
		return
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return
	}
	raw.blocking = false
	l.adopt(&client{raw: raw, tls: tc, buf: make([]byte, 16<<10)})
}
