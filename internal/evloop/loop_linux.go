//go:build linux

package evloop

import (
	"errors"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// epollET is EPOLLET, which package syscall declares with the wrong sign
// for EpollEvent.Events.
const epollET = 1 << 31

const (
	readable = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR
	writable = syscall.EPOLLOUT | syscall.EPOLLHUP | syscall.EPOLLERR
)

// Loop is one event loop: a goroutine locked to its OS thread, its epoll
// instance and the tasks it runs.
type Loop struct {
	epfd int
	wake int // an eventfd, registered with id 0: post writes it

	// Touched only on the loop's thread.
	regs      map[uint64]*Registration // by the id registered with epoll
	nextID    uint64
	current   atomic.Pointer[task] // the task running now, nil between tasks; read by Current
	tasks     int                  // started and not yet ended
	timed     map[*task]struct{}
	nextSweep int64 // the earliest deadline in timed (Unix ns), 0 if none
	events    []syscall.EpollEvent

	mu       sync.Mutex
	posted   []func() // run on the loop's thread, in order
	running  []func() // posted's spare, swapped in by runPosted
	sleeping bool     // in a blocking epoll_wait: a post must signal
	stopping bool
	exited   bool // the epoll and eventfd are closed: post drops
	done     chan struct{}
}

// task is one coroutine on a loop.
type task struct {
	g        atomic.Uintptr // the coroutine's goroutine (getg), set as it starts
	next     func() (struct{}, bool)
	yield    func(struct{}) bool
	parked   bool
	deadline int64         // Unix ns, 0 for none
	reg      *Registration // what it parked on, for the sweep
}

func newLoop() (*Loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("evloop: epoll_create1: %w", err)
	}
	wake, _, errno := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, fmt.Errorf("evloop: eventfd: %w", errno)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // id 0
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(wake), &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(int(wake))
		return nil, fmt.Errorf("evloop: register eventfd: %w", err)
	}
	return &Loop{
		epfd:   epfd,
		wake:   int(wake),
		regs:   map[uint64]*Registration{},
		timed:  map[*task]struct{}{},
		events: make([]syscall.EpollEvent, 256),
		done:   make(chan struct{}),
	}, nil
}

// run is the loop's goroutine. It never unlocks its thread, so the thread
// ends with it.
func (l *Loop) run(started chan<- struct{}) {
	runtime.LockOSThread()
	publish(l)
	close(started)
	defer func() {
		unpublish(l)
		close(l.done)
	}()
	for {
		n := l.poll()
		now := time.Now().UnixNano()
		for _, ev := range l.events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				var b [8]byte
				syscall.Read(l.wake, b[:])
				continue
			}
			l.dispatch(id, ev.Events)
		}
		l.runPosted()
		if l.nextSweep != 0 && now >= l.nextSweep {
			l.sweep(now)
		}
		if l.tasks == 0 && l.tryExit() {
			return
		}
	}
}

// poll waits for events and returns how many are in l.events. A busy loop
// finds some without sleeping, through a raw call that keeps its P; only
// an idle one sleeps in epoll_wait, as an ordinary blocking system call.
func (l *Loop) poll() int {
	if n := l.epollWait(0); n > 0 {
		return n
	}
	l.mu.Lock()
	if len(l.posted) > 0 || (l.stopping && l.tasks == 0) {
		l.mu.Unlock()
		return 0
	}
	l.sleeping = true
	l.mu.Unlock()
	timeout := -1
	if l.nextSweep != 0 {
		ms := (l.nextSweep - time.Now().UnixNano() + int64(time.Millisecond) - 1) / int64(time.Millisecond)
		timeout = int(max(ms, 0))
	}
	n, err := syscall.EpollWait(l.epfd, l.events, timeout)
	l.mu.Lock()
	l.sleeping = false
	l.mu.Unlock()
	if err != nil {
		return 0 // EINTR
	}
	return n
}

// epollWait is a non-blocking epoll_pwait that does not tell the scheduler.
func (l *Loop) epollWait(timeout int) int {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd),
		uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), uintptr(timeout), 0, 0)
	if errno != 0 {
		return 0
	}
	return int(n)
}

// dispatch resumes the tasks parked on the registration id for what
// events says is ready.
func (l *Loop) dispatch(id uint64, events uint32) {
	r := l.regs[id]
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.loop != l || r.id != id {
		r.mu.Unlock()
		return
	}
	var rt, wt *task
	if events&readable != 0 {
		rt, r.reader = r.reader, nil
	}
	if events&writable != 0 {
		wt, r.writer = r.writer, nil
	}
	r.mu.Unlock()
	if rt != nil {
		l.resume(rt)
	}
	if wt != nil && wt != rt {
		l.resume(wt)
	}
}

// sweep resumes the tasks whose deadline has passed.
func (l *Loop) sweep(now int64) {
	var expired []*task
	next := int64(0)
	for t := range l.timed {
		if t.deadline <= now {
			expired = append(expired, t)
		} else if next == 0 || t.deadline < next {
			next = t.deadline
		}
	}
	l.nextSweep = next
	for _, t := range expired {
		if r := t.reg; r != nil {
			r.mu.Lock()
			if r.reader == t {
				r.reader = nil
			}
			if r.writer == t {
				r.writer = nil
			}
			r.mu.Unlock()
		}
		l.resume(t)
	}
}

// start runs fn as a new task until it first parks or ends.
func (l *Loop) start(fn func()) {
	t := &task{}
	t.next, _ = iter.Pull(func(yield func(struct{}) bool) {
		t.yield = yield
		t.g.Store(getg())
		// Cleared before the goroutine ends, so that a new goroutine
		// reusing its descriptor is never taken for the task.
		defer t.g.Store(0)
		fn()
	})
	l.tasks++
	l.switchTo(t)
}

// resume switches to t if it is parked.
func (l *Loop) resume(t *task) {
	if !t.parked {
		return
	}
	t.parked = false
	t.reg = nil
	if t.deadline != 0 {
		delete(l.timed, t)
		t.deadline = 0
	}
	l.switchTo(t)
}

func (l *Loop) switchTo(t *task) {
	l.current.Store(t)
	_, more := t.next()
	l.current.Store(nil)
	if !more {
		l.tasks--
	}
}

// Park suspends the running task until the registration it armed (Arm)
// is ready, its deadline (Unix ns, 0 for none) passes, or Wake or Close
// is called. It may also return early: callers retry their system call
// and park again.
func (l *Loop) Park(deadline int64) {
	t := l.current.Load()
	if t == nil {
		panic("evloop: Park outside a task")
	}
	t.parked = true
	if deadline != 0 {
		t.deadline = deadline
		l.timed[t] = struct{}{}
		if l.nextSweep == 0 || deadline < l.nextSweep {
			l.nextSweep = deadline
		}
	}
	t.yield(struct{}{})
}

// post runs fn on the loop's thread, and reports false if the loop has
// ended.
func (l *Loop) post(fn func()) bool {
	l.mu.Lock()
	if l.exited {
		l.mu.Unlock()
		return false
	}
	l.posted = append(l.posted, fn)
	signal := l.sleeping
	l.sleeping = false
	l.mu.Unlock()
	if signal {
		one := [8]byte{1}
		syscall.Write(l.wake, one[:])
	}
	return true
}

func (l *Loop) runPosted() {
	l.mu.Lock()
	fns := l.posted
	l.posted, l.running = l.running[:0], nil
	l.mu.Unlock()
	for i, fn := range fns {
		fn()
		fns[i] = nil
	}
	l.mu.Lock()
	if l.running == nil {
		l.running = fns[:0]
	}
	l.mu.Unlock()
}

// tryExit ends a stopping loop that has nothing left to run: later posts
// are dropped, and detach no longer touches an epoll descriptor whose
// number may be reused.
func (l *Loop) tryExit() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopping || len(l.posted) > 0 {
		return false
	}
	l.exited = true
	syscall.Close(l.epfd)
	syscall.Close(l.wake)
	return true
}

// stop makes the loop end once its tasks have.
func (l *Loop) stop() {
	l.mu.Lock()
	l.stopping = true
	signal := l.sleeping
	l.mu.Unlock()
	if signal {
		one := [8]byte{1}
		syscall.Write(l.wake, one[:])
	}
}

// detach takes fd, registered as id, out of the loop's epoll. It runs on
// any thread, while fd is still open.
func (l *Loop) detach(fd uintptr, id uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.exited {
		return
	}
	syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	l.posted = append(l.posted, func() { delete(l.regs, id) })
}

// The running loops, for current.
var (
	loopsMu sync.Mutex
	loops   atomic.Pointer[[]*Loop]
)

func publish(l *Loop) {
	loopsMu.Lock()
	defer loopsMu.Unlock()
	var next []*Loop
	if p := loops.Load(); p != nil {
		next = append(next, *p...)
	}
	next = append(next, l)
	loops.Store(&next)
}

func unpublish(l *Loop) {
	loopsMu.Lock()
	defer loopsMu.Unlock()
	var next []*Loop
	if p := loops.Load(); p != nil {
		for _, x := range *p {
			if x != l {
				next = append(next, x)
			}
		}
	}
	loops.Store(&next)
}

// active reports whether any loop runs, for a cheap way out of the
// registration's methods in a process that has none.
func active() bool {
	p := loops.Load()
	return p != nil && len(*p) > 0
}

// Current returns the loop whose running task the caller is, or nil.
func Current() *Loop {
	p := loops.Load()
	if p == nil || len(*p) == 0 {
		return nil
	}
	g := getg()
	for _, l := range *p {
		if t := l.current.Load(); t != nil && t.g.Load() == g {
			return l
		}
	}
	return nil
}

// Ended reports whether l has stopped for good.
func (l *Loop) Ended() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.exited
}

var errNoLoops = errors.New("evloop: at least one loop is required")

// Start starts n loops, each on its own OS thread.
func Start(n int) (*Group, error) {
	if n < 1 {
		return nil, errNoLoops
	}
	g := &Group{}
	for range n {
		l, err := newLoop()
		if err != nil {
			g.Stop(time.Second)
			return nil, err
		}
		started := make(chan struct{})
		go l.run(started)
		<-started
		g.loops = append(g.loops, l)
	}
	return g, nil
}
