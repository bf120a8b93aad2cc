//go:build unix

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

// Conn is a TCP connection whose Read and Write are raw system calls.
type Conn struct {
	*net.TCPConn
	rc syscall.RawConn

	// The operation in flight, for the poller's callbacks below. net's
	// own locks order calls only once they are inside rc, so each
	// direction has its own lock around its fields.
	rmu         sync.Mutex
	rbuf        []byte
	rn          int
	rerr        syscall.Errno
	wmu         sync.Mutex
	wbuf        []byte
	wn          int
	werr        syscall.Errno
	read        func(fd uintptr) bool // c.readOnce, bound once so that no call allocates
	write       func(fd uintptr) bool // c.writeAll
	held        heldWrites            // for the next Read (DeferWritesToRead), under wmu
	sendRead    func(fd uintptr) bool // c.sendThenRead
	sendBlocked bool                  // the held bytes met a full socket

	// On an event loop's thread (package evloop) a read or write that
	// would block parks its task on the loop instead of Go's poller: the
	// callbacks arm the registration and leave the loop in rloop or
	// wloop, and the caller parks outside the raw call, which must not
	// be held across the wait. The loop cannot see net's deadlines, so
	// they are kept here too (Unix ns, 0 for none).
	reg     evloop.Registration
	rloop   *evloop.Loop
	wloop   *evloop.Loop
	readAt  atomic.Int64
	writeAt atomic.Int64
}

// Wrap returns c with raw reads and writes if it is a *net.TCPConn, and c
// itself otherwise.
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	rw := &Conn{TCPConn: tc, rc: rc}
	rw.read = rw.readOnce
	rw.write = rw.writeOnce
	rw.sendRead = rw.sendThenRead
	return rw
}

// DeferWritesToRead holds every Write from now on until the next Read,
// which sends them and then waits for the answer without first looking for
// it: a request and its response in one read operation, one system call
// fewer than a write and a read that finds nothing yet. The Read must follow
// on the same goroutine, with no other Write between.
//
// It is safe because the read operation begins, and Go's poller forgets any
// readiness it saw before, before the bytes go out: whatever the peer sends
// after them wakes the Read. What it sent before them is not looked for
// until the answer, a reset or the read deadline comes, so a caller defers
// only on a connection where nothing is expected before its request.
func (c *Conn) DeferWritesToRead() {
	c.wmu.Lock()
	c.held.start()
	c.wmu.Unlock()
}

// Read reads up to len(b) bytes, waiting on the poller (or its event loop)
// while there are none.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.held.armed.Load() {
		c.wmu.Lock()
		pending := c.held.take()
		if len(pending) > 0 {
			return c.sendAndRead(pending, b) // unlocks wmu
		}
		c.wmu.Unlock()
	}
	return c.readLocked(b)
}

// readLocked reads into b; c.rmu is held.
func (c *Conn) readLocked(b []byte) (int, error) {
	for {
		c.rbuf, c.rn, c.rerr = b, 0, 0
		err := c.rc.Read(c.read)
		n, errno, l := c.rn, c.rerr, c.rloop
		c.rbuf, c.rloop = nil, nil
		switch {
		case err != nil:
			return 0, c.opError("read", unwrapRaw(err))
		case l != nil:
			if err := c.park(l, &c.readAt, "read"); err != nil {
				return 0, err
			}
			continue
		case errno != 0:
			return 0, c.opError("read", os.NewSyscallError("read", errno))
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// park waits on loop l for the armed registration, unless the deadline in
// at has passed.
func (c *Conn) park(l *evloop.Loop, at *atomic.Int64, op string) error {
	dl := at.Load() // read after arming: a later change wakes the task
	if dl != 0 && time.Now().UnixNano() >= dl {
		c.reg.Disarm(l, op == "write")
		return c.opError(op, os.ErrDeadlineExceeded)
	}
	l.Park(dl)
	return nil
}

// sendAndRead sends the held bytes inside a read operation, then waits for
// and reads the answer into b. Held bytes that meet a full socket are sent
// the ordinary way and the read made after them. It is called with both
// locks held and unlocks c.wmu.
func (c *Conn) sendAndRead(pending, b []byte) (int, error) {
	c.wbuf, c.wn, c.werr, c.sendBlocked = pending, 0, 0, false
	c.rbuf, c.rn, c.rerr = b, 0, 0
	err := c.rc.Read(c.sendRead)
	wn, werrno, blocked := c.wn, c.werr, c.sendBlocked
	n, errno, l := c.rn, c.rerr, c.rloop
	c.wbuf, c.rbuf, c.rloop = nil, nil, nil
	c.wmu.Unlock()
	switch {
	case err != nil:
		return 0, c.opError("read", unwrapRaw(err))
	case werrno != 0:
		return 0, c.opError("write", os.NewSyscallError("write", werrno))
	case blocked:
		if _, err := c.writeHeld(pending[wn:]); err != nil {
			return 0, err
		}
		return c.readLocked(b)
	case l != nil: // sent, and parked on a loop for the answer
		if err := c.park(l, &c.readAt, "read"); err != nil {
			return 0, err
		}
		return c.readLocked(b)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// sendThenRead is sendAndRead's callback: on its first call it sends the
// held bytes and asks to wait; after that it reads.
func (c *Conn) sendThenRead(fd uintptr) bool {
	if c.wn < len(c.wbuf) {
		if !c.writeAll(fd) {
			c.sendBlocked = true
			return true // finish the send outside the read operation
		}
		if c.werr != 0 {
			return true
		}
		// Sent: wait for the answer.
		if l := c.reg.Arm(fd, false); l != nil {
			c.rloop = l
			return true
		}
		return false
	}
	return c.readOnce(fd)
}

// Write writes all of b, waiting on the poller while the socket is full.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	held := c.held.hold(b)
	c.wmu.Unlock()
	if held {
		return len(b), nil
	}
	return c.writeHeld(b)
}

// writeHeld writes all of b now.
func (c *Conn) writeHeld(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, c.wn, c.werr = b, 0, 0
	defer func() { c.wbuf = nil }()
	for {
		err := c.rc.Write(c.write)
		l := c.wloop
		c.wloop = nil
		if err != nil {
			return c.wn, c.opError("write", unwrapRaw(err))
		}
		if l == nil {
			break
		}
		if err := c.park(l, &c.writeAt, "write"); err != nil {
			return c.wn, err
		}
	}
	if c.werr != 0 {
		return c.wn, c.opError("write", os.NewSyscallError("write", c.werr))
	}
	return c.wn, nil
}

// readOnce makes one read; false means the socket had nothing, so wait.
func (c *Conn) readOnce(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rbuf[0])), uintptr(len(c.rbuf)))
		switch e {
		case 0:
			c.rn = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if l := c.reg.Arm(fd, false); l != nil {
				c.rloop = l
				return true
			}
			return false
		}
		c.rerr = e
		return true
	}
}

// writeOnce is Write's callback: writeAll, arming the loop when the socket
// is full on a loop's thread.
func (c *Conn) writeOnce(fd uintptr) bool {
	if c.writeAll(fd) {
		return true
	}
	if l := c.reg.Arm(fd, true); l != nil {
		c.wloop = l
		return true
	}
	return false
}

// writeAll writes until c.wbuf is sent; false means the socket is full, so
// wait and be called again.
func (c *Conn) writeAll(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&c.wbuf[c.wn])), uintptr(len(c.wbuf)-c.wn))
		switch e {
		case 0:
			c.wn += int(n)
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.werr = e
		return true
	}
	return true
}

// SetDeadline sets both deadlines, for Go's poller and for an event loop.
func (c *Conn) SetDeadline(t time.Time) error {
	err := c.TCPConn.SetDeadline(t)
	c.readAt.Store(unixNano(t))
	c.writeAt.Store(unixNano(t))
	c.reg.Wake()
	return err
}

// SetReadDeadline sets the read deadline, for Go's poller and for an event
// loop, where a task parked in Read looks at it again.
func (c *Conn) SetReadDeadline(t time.Time) error {
	err := c.TCPConn.SetReadDeadline(t)
	c.readAt.Store(unixNano(t))
	c.reg.Wake()
	return err
}

// SetWriteDeadline sets the write deadline, as SetReadDeadline does.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	err := c.TCPConn.SetWriteDeadline(t)
	c.writeAt.Store(unixNano(t))
	c.reg.Wake()
	return err
}

// Close closes the connection and wakes a task parked on it, to find it
// closed.
func (c *Conn) Close() error {
	err := c.TCPConn.Close()
	c.reg.Close()
	return err
}

// unixNano is t as a deadline: 0 for none, and never 0 otherwise.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixNano(), 1)
}

// opError reports err as net's own Read and Write do.
func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// unwrapRaw takes the error of the raw connection out of its "raw-read" or
// "raw-write" wrapping: a deadline, or a closed connection.
func unwrapRaw(err error) error {
	if oe, ok := err.(*net.OpError); ok {
		return oe.Err
	}
	return err
}
