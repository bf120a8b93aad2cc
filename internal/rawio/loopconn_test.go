//go:build linux

package rawio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/rampart-dev/rampart/internal/evloop"
)

// onLoop accepts one connection on a LoopListener and runs task on
// it as a task of a one-loop group; it returns the client's side.
func onLoop(t *testing.T, task func(c net.Conn)) net.Conn {
	t.Helper()
	g, err := evloop.Start(1)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln = LoopListener(ln)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := server.(*LoopConn); !ok {
		t.Fatalf("LoopListener gave %T, want *LoopConn", server)
	}
	done := make(chan struct{})
	g.Go(func() {
		defer close(done)
		defer server.Close()
		if evloop.Current() == nil {
			t.Error("the task is not on a loop")
			return
		}
		task(server)
	})
	t.Cleanup(func() {
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("the task did not end")
		}
		if !g.Stop(5 * time.Second) {
			t.Error("the loop did not end")
		}
	})
	return client
}

// TestLoopConnEchoes: a task reads and writes, parking on its loop between
// messages, and sees EOF when the client closes.
func TestLoopConnEchoes(t *testing.T) {
	gotEOF := make(chan bool, 1)
	client := onLoop(t, func(c net.Conn) {
		_, err := io.Copy(c, c)
		gotEOF <- err == nil
	})
	client.SetDeadline(time.Now().Add(5 * time.Second))
	for _, msg := range []string{"one", "two", "three"} {
		time.Sleep(20 * time.Millisecond) // the task parks in between
		io.WriteString(client, msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(client, got); err != nil || string(got) != msg {
			t.Fatalf("echo of %q: %q, %v", msg, got, err)
		}
	}
	client.(*net.TCPConn).CloseWrite()
	select {
	case ok := <-gotEOF:
		if !ok {
			t.Error("the task's copy ended with an error, not EOF")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the task did not see the client's EOF")
	}
}

// TestLoopConnReadDeadline: a task parked in Read is woken by its deadline
// (the loop's sweep) with a timeout.
func TestLoopConnReadDeadline(t *testing.T) {
	result := make(chan error, 1)
	took := make(chan time.Duration, 1)
	onLoop(t, func(c net.Conn) {
		start := time.Now()
		c.SetReadDeadline(start.Add(150 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		took <- time.Since(start)
		result <- err
	})
	var err error
	select {
	case err = <-result:
	case <-time.After(5 * time.Second):
		t.Fatal("the deadline did not wake the parked task")
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v, want a timeout", err)
	}
	if d := <-took; d < 140*time.Millisecond || d > 2*time.Second {
		t.Errorf("the timeout came after %v, want about 150ms", d)
	}
}

// TestLoopConnWokenFromAnotherGoroutine: a task parked in Read without a
// deadline is woken by another goroutine moving its deadline into the past
// (Wake) or closing the connection, and sees why.
func TestLoopConnWokenFromAnotherGoroutine(t *testing.T) {
	for _, tc := range []struct {
		name string
		wake func(net.Conn)
		want error
	}{
		{"deadline moved", func(c net.Conn) { c.SetReadDeadline(time.Unix(1, 0)) }, os.ErrDeadlineExceeded},
		{"closed", func(c net.Conn) { c.Close() }, net.ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			result := make(chan error, 1)
			parked := make(chan net.Conn, 1)
			onLoop(t, func(c net.Conn) {
				parked <- c
				_, err := c.Read(make([]byte, 1))
				result <- err
			})
			c := <-parked
			time.Sleep(50 * time.Millisecond)
			tc.wake(c)
			select {
			case err := <-result:
				if !errors.Is(err, tc.want) {
					t.Fatalf("the parked Read returned %v, want %v", err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the parked task was not woken")
			}
		})
	}
}

// TestLoopConnWriteWaitsForAFullSocket: a task writes far more than the
// socket buffers hold to a client that reads slowly, so it parks for
// EPOLLOUT again and again; every byte must arrive in order.
func TestLoopConnWriteWaitsForAFullSocket(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	wrote := make(chan error, 1)
	client := onLoop(t, func(c net.Conn) {
		_, err := c.Write(data)
		wrote <- err
	})
	client.SetDeadline(time.Now().Add(20 * time.Second))
	time.Sleep(100 * time.Millisecond) // let the buffers fill
	got, err := io.ReadAll(io.LimitReader(client, int64(len(data))))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d of %d bytes (%v), or not the bytes written", len(got), len(data), err)
	}
	if err := <-wrote; err != nil {
		t.Fatalf("the task's write: %v", err)
	}
}

// TestLoopConnFromAGoroutine: a goroutine that is not a task waits on Go's
// poller, through the duplicate it joins the first time.
func TestLoopConnFromAGoroutine(t *testing.T) {
	c1, c2, stop, err := pair(t, false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	d, err := Detach(c2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	lc := d.(*LoopConn)
	lc.SetReadDeadline(time.Now().Add(5 * time.Second))
	go func() {
		time.Sleep(50 * time.Millisecond)
		io.WriteString(c1, "late")
	}()
	got := make([]byte, 4)
	if _, err := io.ReadFull(lc, got); err != nil || string(got) != "late" {
		t.Fatalf("read %q, %v; want late", got, err)
	}
	if lc.polled.Load() == nil {
		t.Error("the goroutine's wait did not go through Go's poller")
	}
}

// TestLoopConnDeferredWrite: a write held by DeferWritesToRead goes out
// only with the next Read, which then parks for the answer.
func TestLoopConnDeferredWrite(t *testing.T) {
	held := make(chan struct{})
	goOn := make(chan struct{})
	answer := make(chan string, 1)
	client := onLoop(t, func(c net.Conn) {
		c.(*LoopConn).DeferWritesToRead()
		io.WriteString(c, "ping")
		close(held)
		<-goOn
		got := make([]byte, 4)
		_, err := io.ReadFull(c, got)
		if err != nil {
			answer <- err.Error()
			return
		}
		answer <- string(got)
	})
	<-held
	client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := client.Read(make([]byte, 4)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the held write arrived before the read: %d bytes, %v", n, err)
	}
	close(goOn)
	client.SetDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 4)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "ping" {
		t.Fatalf("the held write: %q, %v", got, err)
	}
	io.WriteString(client, "pong")
	select {
	case a := <-answer:
		if a != "pong" {
			t.Fatalf("the task read %q, want pong", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the task did not get the answer")
	}
}

// TestLoopConnIsANetConn runs x/net's net.Conn conformance suite on a pair
// of LoopConns used from goroutines: deadlines, close while blocked and
// concurrent calls, through the duplicate Go's poller watches.
func TestLoopConnIsANetConn(t *testing.T) {
	nettest.TestConn(t, func() (net.Conn, net.Conn, func(), error) {
		c1, c2, stop, err := pair(t, false)
		if err != nil {
			return nil, nil, nil, err
		}
		d1, err1 := Detach(c1)
		d2, err2 := Detach(c2)
		if err1 != nil || err2 != nil {
			stop()
			return nil, nil, nil, errors.Join(err1, err2)
		}
		return d1, d2, func() { d1.Close(); d2.Close() }, nil
	})
}

// TestDialLoop: a task connects without Go's poller and gets a LoopConn
// that works; a refused connect and a name are reported as net's dialer
// would, and a name is left to it.
func TestDialLoop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := closed.Addr().String()
	closed.Close()

	g, err := evloop.Start(1)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop(5 * time.Second)
	type result struct {
		echo    string
		kind    string
		err     error
		refused error
		name    error
	}
	done := make(chan result, 1)
	g.Go(func() {
		var r result
		defer func() { done <- r }()
		c, err := DialLoop(context.Background(), ln.Addr().String(), time.Second, 30*time.Second)
		if err != nil {
			r.err = err
			return
		}
		defer c.Close()
		r.kind = fmt.Sprintf("%T", c)
		io.WriteString(c, "hello")
		got := make([]byte, 5)
		_, r.err = io.ReadFull(c, got)
		r.echo = string(got)
		_, r.refused = DialLoop(context.Background(), refused, time.Second, 0)
		_, r.name = DialLoop(context.Background(), "localhost:1", time.Second, 0)
	})
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the task did not finish")
	}
	if r.err != nil || r.echo != "hello" || r.kind != "*rawio.LoopConn" {
		t.Fatalf("dial and echo: %s %q %v, want *rawio.LoopConn hello", r.kind, r.echo, r.err)
	}
	var oe *net.OpError
	if !errors.As(r.refused, &oe) || oe.Op != "dial" || !errors.Is(r.refused, syscall.ECONNREFUSED) {
		t.Errorf("dial to a closed port: %v, want a dial OpError with ECONNREFUSED", r.refused)
	}
	if !errors.Is(r.name, ErrNotLiteral) {
		t.Errorf("dial to a name: %v, want ErrNotLiteral", r.name)
	}
}

// fullListener returns the address of a listening socket that never
// accepts and whose backlog is full, so that the kernel drops further SYNs
// and a connect to it waits.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the backlog with connections nobody accepts.
	for range 4 {
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		if c, err := d.Dial("tcp", addr); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return addr
}

// TestDialLoopTimesOutWithoutHoldingTheLoop: a connect that gets no answer
// fails with a timeout after the dial's timeout, or when its context ends,
// and the loop's other tasks run meanwhile.
func TestDialLoopTimesOutWithoutHoldingTheLoop(t *testing.T) {
	addr := fullListener(t)
	g, err := evloop.Start(1)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop(5 * time.Second)
	type result struct {
		timeout, cancelled error
		took               time.Duration
	}
	done := make(chan result, 1)
	g.Go(func() {
		var r result
		start := time.Now()
		_, r.timeout = DialLoop(context.Background(), addr, 300*time.Millisecond, 0)
		r.took = time.Since(start)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, r.cancelled = DialLoop(ctx, addr, 5*time.Second, 0)
		done <- r
	})
	// Another task on the same loop runs while the dial waits.
	ran := make(chan time.Duration, 1)
	start := time.Now()
	g.Go(func() { ran <- time.Since(start) })
	select {
	case d := <-ran:
		if d > 150*time.Millisecond {
			t.Errorf("another task waited %v for the dialling one", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("another task never ran while a dial waited")
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the dials did not end")
	}
	var ne net.Error
	if !errors.As(r.timeout, &ne) || !ne.Timeout() {
		t.Errorf("an unanswered dial: %v, want a timeout", r.timeout)
	}
	if r.took < 250*time.Millisecond || r.took > 3*time.Second {
		t.Errorf("the dial timed out after %v, want about 300ms", r.took)
	}
	if !errors.Is(r.cancelled, context.Canceled) {
		t.Errorf("a dial whose context ended: %v, want context.Canceled", r.cancelled)
	}
}
