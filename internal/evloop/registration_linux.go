//go:build linux

package evloop

import (
	"sync"
	"syscall"
)

// Registration is one file descriptor's place in a loop's epoll instance.
// A connection embeds one (package rawio's Conn does); its zero value is
// ready to use. It follows the tasks that use the descriptor: the first
// park on a loop registers it there, edge-triggered, for good, and a wait
// elsewhere (another loop, or Go's poller) takes it out again.
type Registration struct {
	mu     sync.Mutex
	loop   *Loop  // where fd is registered, nil if nowhere
	id     uint64 // its id there
	out    bool   // registered for EPOLLOUT too
	reader *task  // parked until readable
	writer *task  // parked until writable
}

// Arm readies the running task to park until fd is readable, or writable
// when write is set, and returns the loop to Park on. Call it where fd is
// known to be open (inside a syscall.RawConn callback) and right after
// the system call that found fd not ready. It returns nil when the caller
// is not a task on a loop: the caller then waits as it otherwise would, on
// Go's poller, and fd leaves any loop it was registered with so that the
// loop is not woken for it.
func (r *Registration) Arm(fd uintptr, write bool) *Loop {
	if !active() {
		return nil // no loop runs: nothing to park on or leave
	}
	l := Current()
	r.mu.Lock()
	defer r.mu.Unlock()
	parked := r.reader != nil || r.writer != nil
	if l == nil {
		// Leave the loop, unless a task is parked there on the other
		// direction: it must go on being woken.
		if r.loop != nil && !parked {
			r.loop.detach(fd, r.id)
			r.loop, r.out = nil, false
		}
		return nil
	}
	if r.loop != l {
		if r.loop != nil {
			if parked {
				// A task of another loop is parked on it: the caller waits
				// on Go's poller, holding up its loop (correct, if slow;
				// two loops never share a connection in practice).
				return nil
			}
			r.loop.detach(fd, r.id)
			r.loop = nil
		}
		l.nextID++
		id := l.nextID
		ev := epollEvent(id, write)
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
			return nil // the caller waits on Go's poller, holding up the loop: correct, if slow
		}
		r.loop, r.id, r.out = l, id, write
		l.regs[id] = r
	} else if write != r.out && (write || r.writer == nil) {
		// EPOLLOUT on for a writer; off again at the next read once no
		// one waits to write.
		ev := epollEvent(r.id, write)
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev); err != nil {
			return nil
		}
		r.out = write
	}
	t := l.current.Load()
	if write {
		r.writer = t
	} else {
		r.reader = t
	}
	t.reg = r
	return l
}

// Disarm undoes Arm for the running task of l, which decided not to park
// after all (its deadline had passed), so that r holds no stale waiter.
func (r *Registration) Disarm(l *Loop, write bool) {
	t := l.current.Load()
	r.mu.Lock()
	if write && r.writer == t {
		r.writer = nil
	}
	if !write && r.reader == t {
		r.reader = nil
	}
	r.mu.Unlock()
}

// epollEvent is what a registration asks epoll for: readable always,
// writable only while someone waits to write, since an edge-triggered
// EPOLLOUT fires each time the peer acknowledges data.
func epollEvent(id uint64, write bool) syscall.EpollEvent {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET}
	if write {
		ev.Events |= syscall.EPOLLOUT
	}
	ev.Fd, ev.Pad = int32(uint32(id)), int32(uint32(id>>32))
	return ev
}

// Wake resumes whatever task is parked on r, from any goroutine: a
// deadline moved, and the task must look again.
func (r *Registration) Wake() {
	if !active() {
		return
	}
	r.mu.Lock()
	l := r.loop
	parked := r.reader != nil || r.writer != nil
	r.mu.Unlock()
	if l != nil && parked {
		l.post(func() { l.wakeAll(r) })
	}
}

func (l *Loop) wakeAll(r *Registration) {
	r.mu.Lock()
	if r.loop != l {
		r.mu.Unlock()
		return
	}
	rt, wt := r.reader, r.writer
	r.reader, r.writer = nil, nil
	r.mu.Unlock()
	if rt != nil {
		l.resume(rt)
	}
	if wt != nil && wt != rt {
		l.resume(wt)
	}
}

// Close forgets r once its descriptor is closed (which took it out of the
// epoll instance) and resumes any task parked on it, to find it closed.
func (r *Registration) Close() {
	if !active() {
		return
	}
	r.mu.Lock()
	l, id := r.loop, r.id
	rt, wt := r.reader, r.writer
	r.loop, r.out, r.reader, r.writer = nil, false, nil, nil
	r.mu.Unlock()
	if l == nil {
		return
	}
	l.post(func() {
		delete(l.regs, id)
		if rt != nil {
			l.resume(rt)
		}
		if wt != nil && wt != rt {
			l.resume(wt)
		}
	})
}
