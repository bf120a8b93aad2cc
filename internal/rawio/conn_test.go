//go:build unix

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

// pair returns a connected pair over loopback: a raw client and a plain
// server side, or both raw.
func pair(t *testing.T, rawBoth bool) (c1, c2 net.Conn, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, err
	}
	if rawBoth {
		ln = Listener(ln)
	}
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() { c, err := ln.Accept(); ch <- accepted{c, err} }()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, nil, nil, err
	}
	a := <-ch
	ln.Close()
	if a.err != nil {
		d.Close()
		return nil, nil, nil, a.err
	}
	c1 = Wrap(d)
	if _, ok := c1.(*Conn); !ok {
		t.Fatalf("Wrap(%T) = %T, want *rawio.Conn", d, c1)
	}
	if rawBoth {
		if _, ok := a.c.(*Conn); !ok {
			t.Fatalf("Listener's Accept gave %T, want *rawio.Conn", a.c)
		}
	}
	return c1, a.c, func() { c1.Close(); a.c.Close() }, nil
}

// TestConnIsANetConn runs x/net's conformance suite for net.Conn: basic
// I/O, ping-pong, racing reads and writes, past and future deadlines,
// close while blocked, concurrent method calls.
func TestConnIsANetConn(t *testing.T) {
	for _, both := range []bool{false, true} {
		t.Run(map[bool]string{false: "raw-plain", true: "raw-raw"}[both], func(t *testing.T) {
			nettest.TestConn(t, func() (net.Conn, net.Conn, func(), error) { return pair(t, both) })
		})
	}
}

// TestWriteWaitsForAFullSocket writes far more than the socket buffers
// hold, so the raw write meets EAGAIN and must wait on the poller and go
// on where it stopped; the reader must get every byte in order.
func TestWriteWaitsForAFullSocket(t *testing.T) {
	c1, c2, stop, err := pair(t, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	want := make([]byte, 32<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	done := make(chan error, 1)
	go func() {
		n, err := c1.Write(want)
		if err == nil && n != len(want) {
			err = errors.New("short write without an error")
		}
		c1.(*Conn).CloseWrite()
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the buffers fill
	got, err := io.ReadAll(c2)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want the %d written, in order", len(got), len(want))
	}
}

// TestReadEndsAsNetDoes checks the ends a caller tells apart: EOF, a
// deadline (a timeout net.Error, os.ErrDeadlineExceeded), and a reset.
func TestReadEndsAsNetDoes(t *testing.T) {
	c1, c2, stop, err := pair(t, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	buf := make([]byte, 8)

	c1.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c1.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v, want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("read past its deadline: %#v, want a *net.OpError for read", err)
	}
	c1.SetReadDeadline(time.Time{})

	c2.Write([]byte("hi"))
	c2.(*net.TCPConn).CloseWrite()
	if n, err := c1.Read(buf); n != 2 || err != nil || string(buf[:2]) != "hi" {
		t.Fatalf("read = %d, %v, %q; want 2, nil, hi", n, err, buf[:n])
	}
	if n, err := c1.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer's FIN = %d, %v; want 0, io.EOF", n, err)
	}

	// A peer that resets: the write or the read after it fails with a
	// *net.OpError, not a panic or a silent success.
	c2.(*net.TCPConn).SetLinger(0)
	c2.Close()
	time.Sleep(20 * time.Millisecond)
	var werr error
	for range 3 {
		if _, werr = c1.Write([]byte("x")); werr != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if werr == nil || !errors.As(werr, &oe) || oe.Op != "write" {
		t.Fatalf("write to a reset connection: %v, want a *net.OpError for write", werr)
	}
}

// TestCloseEndsABlockedRead: Close from another goroutine ends a read that
// waits on the poller with net.ErrClosed, as net's own conn does.
func TestCloseEndsABlockedRead(t *testing.T) {
	c1, _, stop, err := pair(t, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	errc := make(chan error, 1)
	go func() { _, err := c1.Read(make([]byte, 1)); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	c1.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a blocked read")
	}
}

// TestConcurrentReadsKeepTheirBuffers: two goroutines reading at once each
// get bytes in their own buffer, never the other's.
func TestConcurrentReadsKeepTheirBuffers(t *testing.T) {
	c1, c2, stop, err := pair(t, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	const n = 2000
	go func() {
		for range n {
			c2.Write([]byte{1})
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 2 {
		wg.Go(func() {
			buf := make([]byte, 1)
			for {
				c1.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				k, err := c1.Read(buf)
				if err != nil {
					return
				}
				if k != 1 || buf[0] != 1 {
					t.Errorf("read %d bytes %v into a one-byte buffer", k, buf)
					return
				}
				mu.Lock()
				total += k
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if total != n {
		t.Fatalf("two readers got %d bytes, want %d", total, n)
	}
}

// TestWrapLeavesOtherConnsAlone: only a *net.TCPConn is wrapped.
func TestWrapLeavesOtherConnsAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := Wrap(a); got != a {
		t.Fatalf("Wrap(net.Pipe) = %T, want it unchanged", got)
	}
}

// TestDeferredWriteGoesOutWithTheNextRead: a held write reaches the peer
// only when the next Read begins, and that Read gets the peer's answer.
func TestDeferredWriteGoesOutWithTheNextRead(t *testing.T) {
	c1, c2, stop, err := pair(t, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c1.(*Conn).DeferWritesToRead()
	if n, err := c1.Write([]byte("pi")); n != 2 || err != nil {
		t.Fatalf("held write = %d, %v; want 2, nil", n, err)
	}
	if n, err := c1.Write([]byte("ng")); n != 2 || err != nil {
		t.Fatalf("second held write = %d, %v; want 2, nil", n, err)
	}
	buf := make([]byte, 16)
	c2.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := c2.Read(buf); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the peer read %q, %v before the next Read: the write was not held", buf[:n], err)
	}
	c2.SetReadDeadline(time.Time{})
	go func() {
		peer := make([]byte, 4)
		if _, err := io.ReadFull(c2, peer); err == nil && string(peer) == "ping" {
			c2.Write([]byte("pong"))
		}
	}()
	c1.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.ReadFull(c1, buf[:4]); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("Read after held writes = %q, %v; want pong", buf[:n], err)
	}
	// Writes are no longer held once the Read began.
	if _, err := c1.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.ReadFull(c2, buf[:4]); err != nil || string(buf[:n]) != "more" {
		t.Fatalf("a write after the Read = %q, %v; want it sent at once", buf[:n], err)
	}
}

// TestDeferredWriteLargerThanTheSocket holds more than the socket buffers
// take: the send finishes outside the read operation and the Read still
// gets the answer, after every byte, in order.
func TestDeferredWriteLargerThanTheSocket(t *testing.T) {
	c1, c2, stop, err := pair(t, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	want := make([]byte, 16<<20)
	for i := range want {
		want[i] = byte(i * 13)
	}
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, len(want))
		if _, err := io.ReadFull(c2, b); err != nil {
			got <- nil
			return
		}
		c2.Write([]byte("k"))
		got <- b
	}()
	c1.(*Conn).DeferWritesToRead()
	c1.Write(want)
	c1.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1)
	if n, err := c1.Read(buf); n != 1 || err != nil || buf[0] != 'k' {
		t.Fatalf("Read after a large held write = %d, %v, %q; want the peer's k", n, err, buf[:n])
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatal("the peer did not get the held bytes whole and in order")
	}
}

// TestDeferredWriteToAClosedPeerEnds: a peer that closed the connection
// before the held write (an upstream's idle timeout) answers it with a
// reset, which ends the Read at once instead of at its deadline.
func TestDeferredWriteToAClosedPeerEnds(t *testing.T) {
	c1, c2, stop, err := pair(t, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c2.Close()
	time.Sleep(50 * time.Millisecond) // the FIN is in, and the poller has seen it
	c1.(*Conn).DeferWritesToRead()
	c1.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	c1.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = c1.Read(make([]byte, 8))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read after a held write to a closed peer: %v, want EOF or a reset", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the Read took %v to see the closed peer", d)
	}
}
