package evloop

import (
	"sync/atomic"
	"time"
)

// Group is a set of loops that share out tasks.
type Group struct {
	loops []*Loop
	next  atomic.Uint32
}

// Go runs fn as a task on the group's next loop, or as an ordinary
// goroutine once the group has stopped.
func (g *Group) Go(fn func()) {
	if len(g.loops) > 0 {
		l := g.loops[int(g.next.Add(1))%len(g.loops)]
		if l.post(func() { l.start(fn) }) {
			return
		}
	}
	go fn()
}

// Stop makes every loop end once its tasks have, and waits up to wait for
// that; it reports whether they all ended. Tasks park on their connections,
// so closing those ends them; a loop whose task is stuck on something else
// ends when that task does.
func (g *Group) Stop(wait time.Duration) bool {
	for _, l := range g.loops {
		l.stop()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for _, l := range g.loops {
		select {
		case <-l.done:
		case <-t.C:
			return false
		}
	}
	return true
}
