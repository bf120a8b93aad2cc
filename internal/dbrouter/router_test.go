package dbrouter

import (
	"bufio"
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// These tests drive the router's choice and its proxying with real TCP
// backends that greet with their name. Health comes from switchCheck, a
// stand-in for the SQL checks (which the db end-to-end tests exercise
// against real mariadbd): the test says which backends pass.
type switchCheck struct {
	mu     sync.Mutex
	usable map[string]bool
	donor  map[string]bool // answers, takes no new connections, keeps its own
}

func (c *switchCheck) set(name string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.usable[name], c.donor[name] = ok, false
}

func (c *switchCheck) Check(_ context.Context, b Backend, _ *sql.DB) (Health, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.usable[b.Name] {
		return Health{Usable: true, State: "passing"}, nil
	}
	if c.donor[b.Name] {
		return Health{Keep: true, State: "donor"}, nil
	}
	return Health{}, errors.New("check failed")
}

func (c *switchCheck) setDonor(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.usable[name], c.donor[name] = false, true
}

// greeter is a backend that writes its name to every connection and then
// echoes.
func greeter(t *testing.T, name string) Backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, name+"\n")
				io.Copy(c, c)
			}()
		}
	}()
	return Backend{Name: name, Addr: ln.Addr().String()}
}

// deadBackend is an address where nothing listens.
func deadBackend(t *testing.T, name string) Backend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return Backend{Name: name, Addr: addr}
}

func startRouter(t *testing.T, check Check, backends ...Backend) *Router {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Listener: ln, Backends: backends, Check: check, TLS: &tls.Config{},
		Interval: 20 * time.Millisecond, Timeout: time.Second, Rise: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return r
}

// through connects through the router and returns the backend's greeting,
// or "" when the router closed the connection.
func through(t *testing.T, r *Router) (string, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", c
	}
	return line[:len(line)-1], c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewConnectionsGoToTheFirstUsableBackendInOrder(t *testing.T) {
	check := &switchCheck{donor: map[string]bool{}, usable: map[string]bool{"db-1": true, "db-2": true, "db-3": true}}
	r := startRouter(t, check, greeter(t, "db-1"), greeter(t, "db-2"), greeter(t, "db-3"))
	waitFor(t, "db-1 usable", func() bool { return r.Status().Active == "db-1" })
	for range 5 {
		if got, _ := through(t, r); got != "db-1" {
			t.Fatalf("connection went to %q, want db-1, the preferred writer", got)
		}
	}

	// db-1 fails its checks: its connections are closed, new ones go to db-2.
	_, held := through(t, r)
	check.set("db-1", false)
	waitFor(t, "db-1 out", func() bool { return r.Status().Active == "db-2" })
	held.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := held.Read(make([]byte, 1)); err == nil {
		t.Error("a connection to db-1 stayed open after db-1 failed its check")
	}
	if got, _ := through(t, r); got != "db-2" {
		t.Errorf("after db-1 failed, connection went to %q, want db-2", got)
	}

	// db-1 passes again: after Rise passes it is preferred once more.
	check.set("db-1", true)
	waitFor(t, "db-1 back", func() bool { return r.Status().Active == "db-1" })
	if got, _ := through(t, r); got != "db-1" {
		t.Errorf("after db-1 came back, connection went to %q", got)
	}
}

func TestADonorTakesNoNewConnectionsButKeepsItsOwn(t *testing.T) {
	check := &switchCheck{donor: map[string]bool{}, usable: map[string]bool{"db-1": true, "db-2": true}}
	r := startRouter(t, check, greeter(t, "db-1"), greeter(t, "db-2"))
	waitFor(t, "db-1 usable", func() bool { return r.Status().Active == "db-1" })
	_, held := through(t, r)
	check.setDonor("db-1")
	waitFor(t, "db-1 out", func() bool { return r.Status().Active == "db-2" })
	if got, _ := through(t, r); got != "db-2" {
		t.Errorf("new connection went to %q while db-1 donates, want db-2", got)
	}
	// The held connection still works: it echoes.
	held.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := held.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(held).ReadString('\n'); err != nil || line != "ping\n" {
		t.Errorf("the donor's connection: %q, %v; want it kept open", line, err)
	}
}

func TestARefusedConnectionMovesToTheNextBackendAtOnce(t *testing.T) {
	check := &switchCheck{donor: map[string]bool{}, usable: map[string]bool{"db-1": true, "db-2": true}}
	// db-1 passes its (stand-in) check but refuses connections, as a
	// server does in the moment after it dies.
	r := startRouter(t, check, deadBackend(t, "db-1"), greeter(t, "db-2"))
	waitFor(t, "both usable", func() bool {
		st := r.Status()
		return st.Backends[0].Usable && st.Backends[1].Usable
	})
	if got, _ := through(t, r); got != "db-2" {
		t.Fatalf("connection went to %q, want db-2 after db-1 refused", got)
	}
	if st := r.Status(); st.Backends[0].Usable || st.Backends[0].Error == "" {
		t.Errorf("db-1 after a refused connection: %+v, want it out with the error", st.Backends[0])
	}
}

func TestWithNoUsableBackendTheConnectionIsClosed(t *testing.T) {
	check := &switchCheck{donor: map[string]bool{}, usable: map[string]bool{}}
	r := startRouter(t, check, greeter(t, "db-1"))
	time.Sleep(100 * time.Millisecond)
	if got, _ := through(t, r); got != "" {
		t.Errorf("got a connection to %q, want none: no backend passed its check", got)
	}
	if r.Healthy() == nil {
		t.Error("Healthy with no usable backend")
	}
}

func TestBytesFlowBothWays(t *testing.T) {
	check := &switchCheck{donor: map[string]bool{}, usable: map[string]bool{"db-1": true}}
	r := startRouter(t, check, greeter(t, "db-1"))
	waitFor(t, "db-1 usable", func() bool { return r.Healthy() == nil })
	_, c := through(t, r)
	msg := make([]byte, 1<<20)
	for i := range msg {
		msg[i] = byte(i)
	}
	go c.Write(msg)
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != msg[i] {
			t.Fatalf("byte %d differs", i)
		}
	}
	if st := r.Status(); st.Backends[0].Connections != 1 || st.Backends[0].Forwarded < 1 {
		t.Errorf("status %+v, want the connection counted", st.Backends[0])
	}
}
