package serve

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

// newTestRequestContext returns a request's context under a cancellable
// parent that is never cancelled: context.Cause and derived contexts must
// stop at the request's context and not take the parent's state.
func newTestRequestContext() *requestContext {
	parent, cancel := context.WithCancel(context.Background())
	_ = cancel // never: only the request ends
	r := &requestContext{}
	r.init(context.WithValue(parent, ctxKey{}, "parent's"))
	return r
}

func waitClosed(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not done after 5s", what)
	}
}

// The request's context behaves as context.WithCancel's would, to
// everything in package context that looks at it.
func TestRequestContextActsAsACancelContext(t *testing.T) {
	r := newTestRequestContext()
	if r.Value(ctxKey{}) != "parent's" {
		t.Fatal("a parent's value is not visible")
	}
	if r.Err() != nil || context.Cause(r) != nil {
		t.Fatalf("before cancel: Err %v, Cause %v", r.Err(), context.Cause(r))
	}
	done := r.Done()
	select {
	case <-done:
		t.Fatal("Done is closed before cancel")
	default:
	}

	ran := make(chan struct{})
	context.AfterFunc(r, func() { close(ran) })
	stopped := make(chan struct{}, 1)
	stop := context.AfterFunc(r, func() { stopped <- struct{}{} })
	if !stop() {
		t.Fatal("stop before cancel reported false")
	}
	child, cancelChild := context.WithCancel(r)
	defer cancelChild()
	timed, cancelTimed := context.WithTimeout(r, time.Hour)
	defer cancelTimed()

	r.cancel()
	r.cancel() // a second cancel changes nothing

	waitClosed(t, done, "Done")
	waitClosed(t, ran, "AfterFunc")
	waitClosed(t, child.Done(), "a WithCancel child")
	waitClosed(t, timed.Done(), "a WithTimeout child")
	if !errors.Is(r.Err(), context.Canceled) || !errors.Is(context.Cause(r), context.Canceled) {
		t.Fatalf("after cancel: Err %v, Cause %v", r.Err(), context.Cause(r))
	}
	if !errors.Is(context.Cause(child), context.Canceled) {
		t.Fatalf("child's cause %v", context.Cause(child))
	}
	select {
	case <-stopped:
		t.Fatal("a stopped AfterFunc ran")
	case <-time.After(50 * time.Millisecond):
	}
}

// Registrations after the end run at once, and a Done asked for late is
// closed, without a channel made for it.
func TestRequestContextAfterCancel(t *testing.T) {
	r := newTestRequestContext()
	r.cancel()
	if r.Done() != closedChan {
		t.Fatal("Done after cancel is not the shared closed channel")
	}
	ran := make(chan struct{})
	stop := r.AfterFunc(func() { close(ran) })
	waitClosed(t, ran, "AfterFunc after cancel")
	if stop() {
		t.Fatal("stop of a func that ran reported true")
	}
	child, cancel := context.WithCancel(r)
	defer cancel()
	waitClosed(t, child.Done(), "a child made after cancel")
}

// An AfterFunc stopped before the cancel never runs; one not stopped runs
// once, however many cancels come.
func TestRequestContextAfterFuncRunsOnce(t *testing.T) {
	r := newTestRequestContext()
	runs := make(chan struct{}, 4)
	r.AfterFunc(func() { runs <- struct{}{} })
	stop := r.AfterFunc(func() { runs <- struct{}{} })
	stop()
	r.cancel()
	r.cancel()
	waitClosed(t, r.Done(), "Done")
	time.Sleep(50 * time.Millisecond)
	if n := len(runs); n != 1 {
		t.Fatalf("%d AfterFunc calls, want 1", n)
	}
}
