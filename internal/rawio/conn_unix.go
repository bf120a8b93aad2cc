//go:build unix

package rawio

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// Conn is a TCP connection whose Read and Write are raw system calls.
type Conn struct {
	*net.TCPConn
	rc syscall.RawConn

	// The operation in flight, for the poller's callbacks below. net's
	// own locks order calls only once they are inside rc, so each
	// direction has its own lock around its fields.
	rmu   sync.Mutex
	rbuf  []byte
	rn    int
	rerr  syscall.Errno
	wmu   sync.Mutex
	wbuf  []byte
	wn    int
	werr  syscall.Errno
	read  func(fd uintptr) bool // c.readOnce, bound once so that no call allocates
	write func(fd uintptr) bool // c.writeAll
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
	rw.write = rw.writeAll
	return rw
}

// Read reads up to len(b) bytes, waiting on the poller while there are none.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	c.rbuf, c.rn, c.rerr = b, 0, 0
	err := c.rc.Read(c.read)
	n, errno := c.rn, c.rerr
	c.rbuf = nil
	c.rmu.Unlock()
	switch {
	case err != nil:
		return 0, c.opError("read", unwrapRaw(err))
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of b, waiting on the poller while the socket is full.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	c.wbuf, c.wn, c.werr = b, 0, 0
	err := c.rc.Write(c.write)
	n, errno := c.wn, c.werr
	c.wbuf = nil
	c.wmu.Unlock()
	switch {
	case err != nil:
		return n, c.opError("write", unwrapRaw(err))
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
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
			return false
		}
		c.rerr = e
		return true
	}
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
