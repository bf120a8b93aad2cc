//go:build linux

package rawio

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// ErrNotLiteral is DialLoop's answer to an address that needs a name
// lookup, which a task must not wait for: the caller dials the ordinary way.
var ErrNotLiteral = errors.New("rawio: address is not an IP literal and port")

// DialLoop connects to addr, an IP literal and port, and returns a
// LoopConn. On a task of an event loop the connect parks the task on its
// loop, where a dial through net would block the loop's thread on Go's
// poller for as long as the connect takes (an upstream that drops SYNs:
// the whole timeout). Elsewhere it waits on Go's poller. It fails after
// timeout (if not zero) or when ctx ends, with a *net.OpError whose Op is
// "dial", as net's dialer does. keepAlive, if positive, turns on TCP
// keep-alive probes at that interval.
func DialLoop(ctx context.Context, addr string, timeout, keepAlive time.Duration) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, ErrNotLiteral
	}
	raddr := net.TCPAddrFromAddrPort(ap)
	fail := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err} }
	if err := ctx.Err(); err != nil {
		return nil, fail(err)
	}
	ip := ap.Addr().Unmap()
	family, sa := syscall.AF_INET6, syscall.Sockaddr(&syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()})
	if ip.Is4() {
		family, sa = syscall.AF_INET, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fail(os.NewSyscallError("socket", err))
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1) // as net's dialer does
	if keepAlive > 0 {
		secs := max(int(keepAlive/time.Second), 1)
		syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, secs)
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, secs)
	}
	c := &LoopConn{fd: fd, raddr: raddr}
	if err := c.connect(ctx, sa, timeout); err != nil {
		c.Close()
		return nil, fail(err)
	}
	if la, err := syscall.Getsockname(fd); err == nil {
		c.laddr = sockaddrToTCP(la)
	}
	return c, nil
}

// connect starts the connect and waits for it to finish, with the dial's
// deadline as the write deadline, and ctx's end moving that deadline into
// the past.
func (c *LoopConn) connect(ctx context.Context, sa syscall.Sockaddr, timeout time.Duration) error {
	err := syscall.Connect(c.fd, sa)
	if err == nil {
		return nil
	}
	if err != syscall.EINPROGRESS && err != syscall.EINTR {
		return os.NewSyscallError("connect", err)
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	c.SetWriteDeadline(deadline)
	defer c.SetWriteDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { c.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		done, err := c.connected()
		if done || err != nil {
			return err
		}
		if err := c.waitConnected(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return errDialTimeout{}
			}
			return err
		}
	}
}

// connected reports whether the connect has finished, and how.
func (c *LoopConn) connected() (bool, error) {
	errno, err := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err != nil {
		return true, os.NewSyscallError("getsockopt", err)
	}
	switch e := syscall.Errno(errno); e {
	case 0:
		// Writable with no error may still be a wake-up before the
		// handshake ended: a connected socket has a peer.
		_, err := syscall.Getpeername(c.fd)
		return err == nil, nil
	case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
		return false, nil
	default:
		return true, os.NewSyscallError("connect", e)
	}
}

// waitConnected waits for the socket to become writable: parked on the
// loop, or on Go's poller, whose callback must look itself (a wake-up
// between its reset and a look of ours would be lost).
func (c *LoopConn) waitConnected() error {
	parked, err := c.park(true)
	if err != nil || parked {
		return unwrapOp(err)
	}
	p, err := c.poller()
	if err != nil {
		return err
	}
	return unwrapRaw(p.rc.Write(func(uintptr) bool {
		done, err := c.connected()
		return done || err != nil
	}))
}

func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}

// errDialTimeout is a dial's timeout: a net.Error that says so.
type errDialTimeout struct{}

func (errDialTimeout) Error() string   { return "i/o timeout" }
func (errDialTimeout) Timeout() bool   { return true }
func (errDialTimeout) Temporary() bool { return true }
func (errDialTimeout) Is(err error) bool {
	return err == os.ErrDeadlineExceeded
}

func sockaddrToTCP(sa syscall.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}
