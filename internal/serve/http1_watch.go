package serve

import (
	"errors"
	"net"
	"time"
)

// The own HTTP/1.x loop reads nothing while a handler runs, which is what
// makes a short request cheap. A long one (a long poll, a slow upstream, a
// stream) is different: when its client leaves, the handler should learn
// it, as net/http's background read tells it, rather than keep an upstream
// busy for nobody. So a request that has run for watchAfter gets that read
// after all: a sweeper starts it, and the request's context is cancelled
// when the client closes or resets the connection. Requests shorter than
// watchAfter, nearly all of them, pay a clock read and nothing else.

// watchAfter is how long a request runs before its client is watched.
const watchAfter = time.Second

// watchLongRequests starts the watch on each connection whose request has
// run for watchAfter, until done is closed.
func (s *http1Server) watchLongRequests(done <-chan struct{}) {
	t := time.NewTicker(watchAfter / 2)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		var due []*h1Conn
		s.mu.Lock()
		for c := range s.conns {
			if at := c.reqStart.Load(); at != 0 && now-at >= int64(watchAfter) && c.watchable.Load() {
				due = append(due, c)
			}
		}
		s.mu.Unlock()
		for _, c := range due {
			c.startWatch()
		}
	}
}

// startWatch reads ahead on the connection of a long request, without
// consuming anything: the bytes of a pipelined request stay buffered for
// the loop. A read that fails other than by a deadline means the client
// has gone: the request's context is cancelled.
func (c *h1Conn) startWatch() {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	if c.reqCtx == nil || c.watchDone != nil || !c.watchable.Load() {
		return
	}
	if !c.readPinned.Load() {
		// The head's deadline may still be set: the watch waits as long
		// as the handler runs.
		c.setReadDeadline(time.Time{})
	}
	done := make(chan struct{})
	c.watchDone = done
	rc := c.reqCtx
	go func() {
		defer close(done)
		_, err := c.br.Peek(1)
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			c.s.log.Debug("client left during a request", "client", c.remoteAddr, "err", err)
			rc.cancel()
		}
	}()
}

// stopWatch ends the watch, if one runs, before anyone else reads the
// connection: the loop, or a handler that hijacks it. It wakes the read
// with a deadline in the past, as net/http does.
func (c *h1Conn) stopWatch() {
	c.reqMu.Lock()
	c.watchable.Store(false)
	c.watchBody = nil
	c.reqStart.Store(0)
	done := c.watchDone
	c.watchDone = nil
	c.reqMu.Unlock()
	if done == nil {
		return
	}
	c.setReadDeadline(time.Unix(1, 0))
	<-done
}

// bodyDone notes that b was read to its end: if it is the body of the
// request being served, its connection may now be watched. A body read
// late, by a goroutine that outlived its request, changes nothing.
func (c *h1Conn) bodyDone(b *h1Body) {
	c.reqMu.Lock()
	if c.watchBody == b {
		c.watchable.Store(true)
	}
	c.reqMu.Unlock()
}
