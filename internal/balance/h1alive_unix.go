//go:build unix

package balance

import "syscall"

// alive reports whether an idle connection is still open, by peeking at its
// socket without blocking: an open, quiet connection has nothing to read.
// EOF means the upstream closed it; bytes mean it sent something unasked
// (over TLS, most likely a close_notify alert). It costs a system call, so
// only requests that must not be sent twice pay it.
func (c *h1Conn) alive() bool {
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return true
	}
	c.disarmRead() // a deadline past would fail the probe
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = rerr == syscall.EAGAIN
		return true // never wait for readiness: this is a probe
	})
	return err == nil && open
}
