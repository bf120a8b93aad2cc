//go:build linux

package rawio

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/rampart-dev/rampart/internal/evloop"
)

// LoopConn is a TCP connection that Go's network poller does not watch,
// for tasks on event loops (package evloop). Its socket is registered with
// the epoll of the loop whose task last waited on it, and nowhere else: a
// socket in Go's poller too would wake an idle thread of the runtime for
// every packet, for nothing (docs/performance.md). A goroutine that is not
// a task can use it all the same: the first time one must wait, the
// connection joins Go's poller through a duplicate descriptor, for good.
type LoopConn struct {
	fd           int
	laddr, raddr net.Addr
	reg          evloop.Registration

	// fdmu guards fd's number against reuse: each system call on it holds
	// a read lock, and Close closes it under the write lock.
	fdmu   sync.RWMutex
	closed bool
	rmu    sync.Mutex // one Read at a time
	wmu    sync.Mutex // one Write at a time

	readAt  atomic.Int64 // deadlines, Unix ns, 0 for none
	writeAt atomic.Int64

	pollMu sync.Mutex
	polled atomic.Pointer[polledConn] // Go's poller's view, once a goroutine waited

	held heldWrites // for the next Read (DeferWritesToRead), under wmu
}

// polledConn is the duplicate that Go's poller watches for a LoopConn.
type polledConn struct {
	tc *net.TCPConn
	rc syscall.RawConn
}

// Detach returns c, a TCP connection no other goroutine uses yet, as a
// LoopConn: its descriptor is duplicated and c closed, which takes it out
// of Go's poller. Anything else is returned unchanged.
func Detach(c net.Conn) (net.Conn, error) {
	var tc *net.TCPConn
	switch x := c.(type) {
	case *net.TCPConn:
		tc = x
	case *Conn:
		tc = x.TCPConn
	default:
		return c, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = dupCloseOnExec(int(s)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, os.NewSyscallError("fcntl", derr)
	}
	lc := &LoopConn{fd: fd, laddr: tc.LocalAddr(), raddr: tc.RemoteAddr()}
	tc.Close()
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("setnonblock", err)
	}
	return lc, nil
}

func dupCloseOnExec(fd int) (int, error) {
	nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(nfd), nil
}

// DeferWritesToRead holds every Write from now on until the next Read,
// which sends them and, on a loop, parks for the answer at once instead of
// first making a read that would find nothing: one system call fewer. The
// Read must follow on the same task, with no other Write between. It is
// safe because the socket is registered with the loop before the task
// parks, edge-triggered: whatever arrives after the bytes went out wakes
// it.
func (c *LoopConn) DeferWritesToRead() {
	c.wmu.Lock()
	c.held.start()
	c.wmu.Unlock()
}

// Read reads up to len(b) bytes, waiting on its task's loop, or on Go's
// poller, while there are none.
func (c *LoopConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if err := c.expired(&c.readAt, "read"); err != nil {
		return 0, err
	}
	if c.held.armed.Load() {
		sent, err := c.sendHeld()
		if err != nil {
			return 0, err
		}
		if sent {
			// The answer cannot be here yet: wait for it before reading.
			if _, err := c.park(false); err != nil {
				return 0, err
			}
		}
	}
	for {
		n, errno := c.syscall(syscall.SYS_READ, b)
		if errno == syscall.EAGAIN {
			parked, err := c.park(false)
			if err != nil {
				return 0, err
			}
			if parked {
				continue
			}
			n, errno, err = c.pollerIO(syscall.SYS_READ, b, false)
			if err != nil {
				return 0, err
			}
		}
		switch errno {
		case 0:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EBADF:
			return 0, c.opError("read", net.ErrClosed)
		}
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	}
}

// sendHeld writes what DeferWritesToRead held, and reports whether there
// was anything.
func (c *LoopConn) sendHeld() (bool, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	pending := c.held.take()
	if len(pending) == 0 {
		return false, nil
	}
	_, err := c.write(pending)
	return true, err
}

// Write writes all of b, waiting while the socket is full.
func (c *LoopConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.expired(&c.writeAt, "write"); err != nil {
		return 0, err
	}
	if c.held.hold(b) {
		return len(b), nil
	}
	return c.write(b)
}

// write writes all of b; c.wmu is held.
func (c *LoopConn) write(b []byte) (int, error) {
	w := 0
	for w < len(b) {
		n, errno := c.syscall(syscall.SYS_WRITE, b[w:])
		if errno == syscall.EAGAIN {
			parked, err := c.park(true)
			if err != nil {
				return w, err
			}
			if parked {
				continue
			}
			n, errno, err = c.pollerIO(syscall.SYS_WRITE, b[w:], true)
			if err != nil {
				return w, err
			}
		}
		switch errno {
		case 0:
			w += n
			continue
		case syscall.EINTR:
			continue
		case syscall.EBADF:
			return w, c.opError("write", net.ErrClosed)
		}
		return w, c.opError("write", os.NewSyscallError("write", errno))
	}
	return w, nil
}

// pollerIO makes the read or write through Go's poller, which retries it
// in its callback until the socket is ready: the callback, not this
// goroutine, must make the first attempt after the poller resets its
// readiness, or a wake-up between the two would be lost.
func (c *LoopConn) pollerIO(trap uintptr, b []byte, write bool) (int, syscall.Errno, error) {
	op := "read"
	if write {
		op = "write"
	}
	p, err := c.poller()
	if err != nil {
		return 0, 0, c.opError(op, err)
	}
	var n int
	var errno syscall.Errno
	attempt := func(fd uintptr) bool {
		r, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		n, errno = int(r), e
		return e != syscall.EAGAIN
	}
	if write {
		err = p.rc.Write(attempt)
	} else {
		err = p.rc.Read(attempt)
	}
	if err != nil {
		return 0, 0, c.opError(op, unwrapRaw(err))
	}
	return n, errno, nil
}

// syscall makes one raw read or write on fd, or reports EBADF once closed.
func (c *LoopConn) syscall(trap uintptr, b []byte) (int, syscall.Errno) {
	c.fdmu.RLock()
	defer c.fdmu.RUnlock()
	if c.closed {
		return 0, syscall.EBADF
	}
	if len(b) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(trap, uintptr(c.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	return int(n), e
}

// park parks a task on its loop until the socket is readable (or
// writable), unless the deadline has passed; it reports false, without
// waiting, when the caller is not a task. It may return early; the caller
// tries again.
func (c *LoopConn) park(write bool) (bool, error) {
	at, op := &c.readAt, "read"
	if write {
		at, op = &c.writeAt, "write"
	}
	if err := c.expired(at, op); err != nil {
		return false, err
	}
	c.fdmu.RLock()
	if c.closed {
		c.fdmu.RUnlock()
		return false, c.opError(op, net.ErrClosed)
	}
	l := c.reg.Arm(uintptr(c.fd), write)
	c.fdmu.RUnlock()
	if l == nil {
		return false, nil
	}
	// Read after arming: a deadline another goroutine set before this
	// point is seen here, and one set after it wakes the task (Wake).
	if err := c.expired(at, op); err != nil {
		c.reg.Disarm(l, write)
		return false, err
	}
	l.Park(at.Load())
	return true, nil
}

// expired fails an operation whose deadline, in at, has passed: as with
// net's connections, even one that would not have to wait.
func (c *LoopConn) expired(at *atomic.Int64, op string) error {
	if dl := at.Load(); dl != 0 && time.Now().UnixNano() >= dl {
		return c.opError(op, os.ErrDeadlineExceeded)
	}
	return nil
}

// poller returns the duplicate that Go's poller watches, making it the
// first time.
func (c *LoopConn) poller() (*polledConn, error) {
	if p := c.polled.Load(); p != nil {
		return p, nil
	}
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	if p := c.polled.Load(); p != nil {
		return p, nil
	}
	c.fdmu.RLock()
	if c.closed {
		c.fdmu.RUnlock()
		return nil, net.ErrClosed
	}
	fd, err := dupCloseOnExec(c.fd)
	c.fdmu.RUnlock()
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(fd), "")
	nc, err := net.FileConn(f) // registers its own duplicate
	f.Close()
	if err != nil {
		return nil, err
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return nil, syscall.EINVAL
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		tc.Close()
		return nil, err
	}
	tc.SetReadDeadline(fromUnixNano(c.readAt.Load()))
	tc.SetWriteDeadline(fromUnixNano(c.writeAt.Load()))
	p := &polledConn{tc: tc, rc: rc}
	c.polled.Store(p)
	// Again, now that the setters see p: a deadline set in between would
	// otherwise be lost.
	tc.SetReadDeadline(fromUnixNano(c.readAt.Load()))
	tc.SetWriteDeadline(fromUnixNano(c.writeAt.Load()))
	c.fdmu.RLock()
	closed := c.closed
	c.fdmu.RUnlock()
	if closed { // Close ran meanwhile and did not see p
		tc.Close()
	}
	return p, nil
}

// Close closes the connection and wakes whatever waits on it.
func (c *LoopConn) Close() error {
	c.fdmu.Lock()
	if c.closed {
		c.fdmu.Unlock()
		return c.opError("close", net.ErrClosed)
	}
	c.closed = true
	err := syscall.Close(c.fd)
	c.fdmu.Unlock()
	if p := c.polled.Load(); p != nil {
		p.tc.Close()
	}
	c.reg.Close()
	if err != nil {
		return c.opError("close", os.NewSyscallError("close", err))
	}
	return nil
}

// CloseWrite shuts down the sending side.
func (c *LoopConn) CloseWrite() error { return c.shutdown(syscall.SHUT_WR) }

// CloseRead shuts down the reading side.
func (c *LoopConn) CloseRead() error { return c.shutdown(syscall.SHUT_RD) }

func (c *LoopConn) shutdown(how int) error {
	c.fdmu.RLock()
	defer c.fdmu.RUnlock()
	if c.closed {
		return c.opError("shutdown", net.ErrClosed)
	}
	if err := syscall.Shutdown(c.fd, how); err != nil {
		return c.opError("shutdown", os.NewSyscallError("shutdown", err))
	}
	return nil
}

// LocalAddr returns the local address.
func (c *LoopConn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the peer's address.
func (c *LoopConn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline sets both deadlines.
func (c *LoopConn) SetDeadline(t time.Time) error {
	c.readAt.Store(unixNano(t))
	c.writeAt.Store(unixNano(t))
	if p := c.polled.Load(); p != nil {
		p.tc.SetDeadline(t)
	}
	c.reg.Wake()
	return nil
}

// SetReadDeadline sets the read deadline; a task parked in Read looks at it
// again.
func (c *LoopConn) SetReadDeadline(t time.Time) error {
	c.readAt.Store(unixNano(t))
	if p := c.polled.Load(); p != nil {
		p.tc.SetReadDeadline(t)
	}
	c.reg.Wake()
	return nil
}

// SetWriteDeadline sets the write deadline.
func (c *LoopConn) SetWriteDeadline(t time.Time) error {
	c.writeAt.Store(unixNano(t))
	if p := c.polled.Load(); p != nil {
		p.tc.SetWriteDeadline(t)
	}
	c.reg.Wake()
	return nil
}

// SyscallConn gives raw access to the socket, as net's connections do.
func (c *LoopConn) SyscallConn() (syscall.RawConn, error) { return loopRawConn{c}, nil }

type loopRawConn struct{ c *LoopConn }

func (r loopRawConn) Control(f func(fd uintptr)) error {
	r.c.fdmu.RLock()
	defer r.c.fdmu.RUnlock()
	if r.c.closed {
		return net.ErrClosed
	}
	f(uintptr(r.c.fd))
	return nil
}

func (r loopRawConn) Read(f func(fd uintptr) bool) error  { return r.do(f, false) }
func (r loopRawConn) Write(f func(fd uintptr) bool) error { return r.do(f, true) }

func (r loopRawConn) do(f func(fd uintptr) bool, write bool) error {
	for {
		done := false
		if err := r.Control(func(fd uintptr) { done = f(fd) }); err != nil {
			return err
		}
		if done {
			return nil
		}
		parked, err := r.c.park(write)
		if err != nil {
			return err
		}
		if parked {
			continue
		}
		p, err := r.c.poller()
		if err != nil {
			return err
		}
		if write {
			return p.rc.Write(f)
		}
		return p.rc.Read(f)
	}
}

func (c *LoopConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: err}
}

// fromUnixNano is unixNano's inverse.
func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
