package serve

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// requestContext is the context of one request on the own HTTP/1.x
// server: what context.WithCancel over the connection's context gives, for
// less. A request's context is made for every request and, behind the lb,
// watched by the upstream exchange (context.AfterFunc) and cancelled at
// its end; the standard one allocates a cancelCtx, its Done channel, a
// children map and an afterFuncCtx for that. This one is part of the
// response (one allocation with it), makes its channel only when someone
// calls Done, and takes AfterFunc registrations itself (context.AfterFunc
// and context.WithCancel use that method when a context has it).
//
// The connection's context, its parent, is never cancelled (the drain
// cancels requests one by one), so nothing needs to propagate from it.
type requestContext struct {
	parent context.Context

	mu    sync.Mutex
	done  chan struct{} // made by the first Done, or closedChan
	err   error
	funcs []*afterFunc
	first [1]*afterFunc // funcs' room for the usual one
	own   afterFunc     // the first registration, not allocated
}

// afterFunc is one AfterFunc registration; its state says whether it was
// stopped or claimed to run.
type afterFunc struct {
	f     func()
	state atomic.Int32 // 0 waiting, 1 stopped, 2 run
}

var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (r *requestContext) init(parent context.Context) {
	r.parent = parent
	r.funcs = r.first[:0]
}

func (r *requestContext) Deadline() (time.Time, bool) { return r.parent.Deadline() }

func (r *requestContext) Done() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil {
		r.done = make(chan struct{})
	}
	return r.done
}

func (r *requestContext) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Value answers from the parent. Package context, looking for a cancelCtx
// among the ancestors, finds none whose Done is this one's, so context.Cause
// gives Err and derived contexts register with AfterFunc.
func (r *requestContext) Value(key any) any { return r.parent.Value(key) }

func (r *requestContext) String() string { return "serve.requestContext" }

// AfterFunc runs f in its own goroutine once the request is cancelled, as
// context.AfterFunc does; stop prevents that and reports whether it did.
func (r *requestContext) AfterFunc(f func()) (stop func() bool) {
	r.mu.Lock()
	a := &r.own
	if a.f != nil {
		a = &afterFunc{}
	}
	a.f = f
	if r.err != nil {
		r.mu.Unlock()
		a.state.Store(2)
		go f()
		return a.stop
	}
	r.funcs = append(r.funcs, a)
	r.mu.Unlock()
	return a.stop
}

func (a *afterFunc) stop() bool { return a.state.CompareAndSwap(0, 1) }

// cancel ends the request's context; only the first call counts.
func (r *requestContext) cancel() {
	r.mu.Lock()
	if r.err != nil {
		r.mu.Unlock()
		return
	}
	r.err = context.Canceled
	if r.done == nil {
		r.done = closedChan
	} else {
		close(r.done)
	}
	funcs := r.funcs
	r.funcs = nil
	r.mu.Unlock()
	for _, a := range funcs {
		if a.state.CompareAndSwap(0, 2) {
			go a.f()
		}
	}
}
