package main

import (
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// errWouldBlock is what a non-blocking fdConn's Read returns when the socket
// has nothing: a temporary, timeout-like net.Error, so crypto/tls returns
// it without marking the connection broken, keeping any partial record.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// fdConn is a net.Conn over a raw socket, for crypto/tls. While blocking
// (the handshake, in its own goroutine) it waits in poll(2); after that
// Read never waits and Write only appends to out, which the loop flushes.
type fdConn struct {
	fd       int
	blocking bool
	out      []byte
}

func (c *fdConn) Read(b []byte) (int, error) {
	for {
		n, err := syscall.Read(c.fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN && c.blocking:
			waitFor(c.fd, pollIn)
			continue
		case err == syscall.EAGAIN:
			return 0, errWouldBlock
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (c *fdConn) Write(b []byte) (int, error) {
	if !c.blocking {
		c.out = append(c.out, b...)
		return len(b), nil
	}
	for w := 0; w < len(b); {
		n, err := syscall.Write(c.fd, b[w:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			waitFor(c.fd, pollOut)
			continue
		case err != nil:
			return w, err
		}
		w += n
	}
	return len(b), nil
}

// flush writes out what Write buffered. It reports false when the socket
// is full and the rest must wait for EPOLLOUT, and the write's error.
func (c *fdConn) flush() (bool, error) {
	for len(c.out) > 0 {
		n, err := syscall.Write(c.fd, c.out)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false, nil
		case err != nil:
			c.out = c.out[:0]
			return true, err
		}
		c.out = c.out[n:]
	}
	c.out = c.out[:0:cap(c.out)]
	return true, nil
}

func (c *fdConn) Close() error                     { return nil } // the loop closes the socket
func (c *fdConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fdConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fdConn) SetDeadline(time.Time) error      { return nil }
func (c *fdConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fdConn) SetWriteDeadline(time.Time) error { return nil }

const (
	pollIn  = 0x1
	pollOut = 0x4
)

// waitFor blocks in poll(2) until fd is readable or writable (events).
func waitFor(fd int, events int16) {
	p := struct {
		fd      int32
		events  int16
		revents int16
	}{int32(fd), events, 0}
	syscall.Syscall(syscall.SYS_POLL, uintptr(unsafe.Pointer(&p)), 1, ^uintptr(0))
}
