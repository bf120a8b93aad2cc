package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"runtime"
	"strconv"
	"sync"
	"syscall"
)

// epollET is EPOLLET, which package syscall declares with the wrong sign
// for EpollEvent.Events.
const epollET = 1 << 31

// client is a TLS connection owned by one loop.
type client struct {
	raw     *fdConn
	tls     *tls.Conn
	buf     []byte // plaintext read and not yet served
	have    int
	waiting bool // a request is upstream
	closed  bool
	wantOut bool // registered for EPOLLOUT: a response waits to be flushed
}

// upstream is a plain connection to a backend, owned by one loop.
type upstream struct {
	fd     int
	addr   int // index into loop.addrs
	buf    []byte
	have   int
	client *client // whose request it carries, or nil while idle
}

// loop is one event loop: a locked OS thread, its epoll instance and the
// connections registered there. Only adopt touches it from other threads.
type loop struct {
	epfd      int
	wake      int // eventfd: stop writes it, run sees stopping
	addrs     []*syscall.SockaddrInet4
	next      int
	clients   map[int]*client
	upstreams map[int]*upstream
	idle      [][]*upstream // per upstream address, a LIFO stack

	mu       sync.Mutex
	incoming []*client // handed over by handshakes, not yet in clients
	stopping bool
}

func newLoop(addrs []*syscall.SockaddrInet4, first int) (*loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, _, errno := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, errno
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(wake)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(wake), &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(int(wake))
		return nil, err
	}
	// A loop's own copies: syscall.Connect writes into a Sockaddr.
	own := make([]*syscall.SockaddrInet4, len(addrs))
	for i, a := range addrs {
		own[i] = &syscall.SockaddrInet4{Port: a.Port, Addr: a.Addr}
	}
	return &loop{epfd: epfd, wake: int(wake), addrs: own, next: first, clients: map[int]*client{},
		upstreams: map[int]*upstream{}, idle: make([][]*upstream, len(addrs))}, nil
}

// stop makes run close every connection and return.
func (l *loop) stop() {
	l.mu.Lock()
	l.stopping = true
	l.mu.Unlock()
	l.signal()
}

// shutdown closes everything the loop owns; run's last act.
func (l *loop) shutdown() {
	l.takeIncoming()
	for _, c := range l.clients {
		syscall.Close(c.raw.fd)
	}
	for fd := range l.upstreams {
		syscall.Close(fd)
	}
	syscall.Close(l.wake)
	syscall.Close(l.epfd)
}

// adopt hands c to the loop; called from the handshake's goroutine.
func (l *loop) adopt(c *client) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopping {
		syscall.Close(c.raw.fd)
		return
	}
	// Registered under the lock, so that stop, which takes it too, finds
	// every adopted connection either in incoming or not yet handed over.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET, Fd: int32(c.raw.fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, c.raw.fd, &ev); err != nil {
		syscall.Close(c.raw.fd)
		return
	}
	l.incoming = append(l.incoming, c)
	// The handshake's last read may have taken the first request too, into
	// crypto/tls's buffer, where no epoll event will announce it: wake the
	// loop to read the new connection at once.
	l.signal()
}

// signal wakes run through the eventfd.
func (l *loop) signal() {
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	syscall.Write(l.wake, one)
}

func (l *loop) run() {
	runtime.LockOSThread()
	evs := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(l.epfd, evs, -1)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range evs[:n] {
			fd := int(ev.Fd)
			if fd == l.wake {
				var count [8]byte
				syscall.Read(l.wake, count[:])
				l.mu.Lock()
				stopping := l.stopping
				l.mu.Unlock()
				if stopping {
					l.shutdown()
					return
				}
				for _, c := range l.takeIncoming() {
					l.readClient(c)
				}
				continue
			}
			if u := l.upstreams[fd]; u != nil {
				l.readUpstream(u)
				continue
			}
			c := l.clients[fd]
			if c == nil {
				for _, n := range l.takeIncoming() {
					l.readClient(n)
				}
				continue // read just now, with whatever this event announced
			}
			if ev.Events&syscall.EPOLLOUT != 0 {
				l.flush(c)
			}
			if ev.Events&^syscall.EPOLLOUT != 0 {
				l.readClient(c)
			}
		}
	}
}

// takeIncoming moves every adopted client into the loop's own map and
// returns them.
func (l *loop) takeIncoming() []*client {
	l.mu.Lock()
	in := l.incoming
	l.incoming = nil
	l.mu.Unlock()
	for _, c := range in {
		l.clients[c.raw.fd] = c
	}
	return in
}

func (l *loop) closeClient(c *client) {
	if c.closed {
		return
	}
	c.closed = true
	delete(l.clients, c.raw.fd)
	syscall.Close(c.raw.fd) // also takes it out of epoll
}

// readClient reads everything the socket has (edge-triggered), keeping the
// plaintext, and serves the next request unless one is upstream.
func (l *loop) readClient(c *client) {
	for c.have < len(c.buf) {
		n, err := c.tls.Read(c.buf[c.have:])
		c.have += n
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break // drained
		}
		if !c.waiting {
			l.closeClient(c)
		} else {
			c.closed = true // finish the exchange, then close
		}
		return
	}
	l.serve(c)
}

var (
	headEnd     = []byte("\r\n\r\n")
	edgeHeaders = []byte("\r\nHost: www.foobar.com\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Request-Id: 0123456789abcdef0123456789abcdef\r\nVia: 1.1 loop\r\n\r\n")
	respHeaders = []byte("Strict-Transport-Security: max-age=31536000; includeSubDomains\r\nX-Request-Id: 0123456789abcdef0123456789abcdef\r\n\r\n")
)

// serve sends the next complete request head upstream: its request line
// and the edge headers.
func (l *loop) serve(c *client) {
	if c.waiting || c.closed {
		return
	}
	i := bytes.Index(c.buf[:c.have], headEnd)
	if i < 0 {
		return
	}
	line := c.buf[:i]
	if j := bytes.IndexByte(line, '\r'); j >= 0 {
		line = line[:j]
	}
	u := l.upstream()
	if u == nil {
		l.closeClient(c)
		return
	}
	req := make([]byte, 0, len(line)+len(edgeHeaders))
	req = append(append(req, line...), edgeHeaders...)
	c.have = copy(c.buf, c.buf[i+len(headEnd):c.have])
	u.client, c.waiting = c, true
	for w := 0; w < len(req); {
		n, err := syscall.Write(u.fd, req[w:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil { // a request this small fits any socket buffer
			l.dropUpstream(u)
			return
		}
		w += n
	}
}

// upstream pops an idle connection to the next backend in turn, or dials.
func (l *loop) upstream() *upstream {
	a := l.next % len(l.addrs)
	l.next++
	if s := l.idle[a]; len(s) > 0 {
		u := s[len(s)-1]
		l.idle[a] = s[:len(s)-1]
		return u
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	// A blocking connect: on loopback it is as quick as a non-blocking one.
	if err := syscall.Connect(fd, l.addrs[a]); err != nil {
		syscall.Close(fd)
		return nil
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	syscall.SetNonblock(fd, true)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET, Fd: int32(fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		syscall.Close(fd)
		return nil
	}
	u := &upstream{fd: fd, addr: a, buf: make([]byte, 16<<10)}
	l.upstreams[fd] = u
	return u
}

func (l *loop) dropUpstream(u *upstream) {
	delete(l.upstreams, u.fd)
	syscall.Close(u.fd)
	for i, x := range l.idle[u.addr] {
		if x == u {
			l.idle[u.addr] = append(l.idle[u.addr][:i], l.idle[u.addr][i+1:]...)
			break
		}
	}
	if c := u.client; c != nil {
		l.closeClient(c)
	}
}

// readUpstream reads what the backend sent and, once a whole response is
// in, writes it to the client with the edge headers added.
func (l *loop) readUpstream(u *upstream) {
	for {
		if u.have == len(u.buf) {
			u.buf = append(u.buf, make([]byte, len(u.buf))...)
		}
		n, err := syscall.Read(u.fd, u.buf[u.have:])
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			break
		}
		if err != nil || n == 0 {
			l.dropUpstream(u)
			return
		}
		u.have += n
	}
	c := u.client
	if c == nil {
		return
	}
	i := bytes.Index(u.buf[:u.have], headEnd)
	if i < 0 {
		return
	}
	head := u.buf[:i+2] // through the last header's CRLF
	total := i + len(headEnd) + contentLength(head)
	if u.have < total {
		return
	}
	out := make([]byte, 0, total+len(respHeaders))
	out = append(append(append(out, head...), respHeaders...), u.buf[i+len(headEnd):total]...)
	u.have = copy(u.buf, u.buf[total:u.have])
	u.client, c.waiting = nil, false
	l.idle[u.addr] = append(l.idle[u.addr], u)
	if c.closed {
		l.closeClient(c)
		return
	}
	c.tls.Write(out) // buffered by fdConn
	l.flush(c)
	if !c.closed {
		l.serve(c) // a request that came meanwhile
	}
}

// flush sends the client's buffered bytes, registering for EPOLLOUT while
// the socket is full and only then.
func (l *loop) flush(c *client) {
	done, err := c.raw.flush()
	if err != nil {
		l.closeClient(c)
		return
	}
	if done == c.wantOut {
		events := uint32(syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET)
		if !done {
			events |= syscall.EPOLLOUT
		}
		ev := syscall.EpollEvent{Events: events, Fd: int32(c.raw.fd)}
		syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, c.raw.fd, &ev)
		c.wantOut = !done
	}
}

// contentLength finds Content-Length in a response head; 0 if absent.
func contentLength(head []byte) int {
	for len(head) > 0 {
		j := bytes.Index(head, []byte("\r\n"))
		if j < 0 {
			break
		}
		line := head[:j]
		head = head[j+2:]
		if k := bytes.IndexByte(line, ':'); k > 0 && bytes.EqualFold(line[:k], []byte("Content-Length")) {
			n, _ := strconv.Atoi(string(bytes.TrimSpace(line[k+1:])))
			return n
		}
	}
	return 0
}
