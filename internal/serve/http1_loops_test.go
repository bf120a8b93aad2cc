package serve

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// These tests hold the own loop on one event loop (Options.Loops 1) to
// what a task must never do: make the loop's other connections wait, or
// leave the drain's sight.

// TestLoopsOversizedHeadDoesNotStallTheLoop: a head over the limit gets its
// 431 and lingering close off the loop, so another connection on the same
// loop is answered at once.
func TestLoopsOversizedHeadDoesNotStallTheLoop(t *testing.T) {
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		Options{OwnHTTP1: true, Loops: 1, MaxHeaderBytes: 1024}, false)
	other := s.dial(t)
	other.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(other)
	roundTrip := func() time.Duration {
		start := time.Now()
		io.WriteString(other, get("/"))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		return time.Since(start)
	}
	roundTrip()
	bad := s.dial(t)
	bad.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(bad, "GET / HTTP/1.1\r\nHost: x\r\nX: "+strings.Repeat("a", 8000)+"\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(bad), nil)
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized head: %v %v, want 431", resp, err)
	}
	if d := roundTrip(); d > 250*time.Millisecond {
		t.Errorf("another connection on the loop waited %v during the 431's lingering close", d)
	}
}

// TestLoopsDrainWaitsForAMovedRequest: a request with a body leaves the
// loop for a goroutine, and the drain still waits for it.
func TestLoopsDrainWaitsForAMovedRequest(t *testing.T) {
	finished := make(chan struct{})
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		time.Sleep(400 * time.Millisecond)
		io.WriteString(w, "done")
		close(finished)
	}), Options{OwnHTTP1: true, Loops: 1, DrainTimeout: 3 * time.Second}, false)
	c := s.dial(t)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
	time.Sleep(100 * time.Millisecond)
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		select {
		case <-finished:
		default:
			t.Fatal("Run returned while a moved request was in flight")
		}
	case <-time.After(200 * time.Millisecond): // the drain waits, as it should
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the moved request's response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "done" {
		t.Errorf("body %q, want done", body)
	}
}

// TestLoopsStreamOutlivesTheWatch: a long response to a client that stops
// reading parks its task in Write; the watch for a client leaving (after a
// second) reads from a goroutine, and must not take the socket from the
// loop under the parked task.
func TestLoopsStreamOutlivesTheWatch(t *testing.T) {
	big := strings.Repeat("x", 16<<20)
	s := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, big)
	}), Options{OwnHTTP1: true, Loops: 1, IdleTimeout: 8 * time.Second}, false)
	c := s.dial(t)
	io.WriteString(c, get("/"))
	time.Sleep(1500 * time.Millisecond) // the socket fills, the task parks, the watch starts
	c.SetDeadline(time.Now().Add(6 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if n != int64(len(big)) {
		t.Errorf("response cut short: %d of %d bytes (%v)", n, len(big), err)
	}
}
