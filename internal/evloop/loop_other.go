//go:build !linux

package evloop

import "errors"

// Loop is an event loop; only Linux has them.
type Loop struct{ done chan struct{} }

// Registration is a descriptor's place in a loop; elsewhere it never
// parks.
type Registration struct{}

// Arm returns nil: there are no loops to park on.
func (r *Registration) Arm(fd uintptr, write bool) *Loop { return nil }

// Disarm does nothing.
func (r *Registration) Disarm(l *Loop, write bool) {}

// Wake does nothing.
func (r *Registration) Wake() {}

// Close does nothing.
func (r *Registration) Close() {}

// Park is never reached: Arm returns no loop.
func (l *Loop) Park(deadline int64) {}

func (l *Loop) post(fn func()) bool { return false }
func (l *Loop) start(fn func())     {}
func (l *Loop) stop()               {}

// Current returns nil: there are no loops.
func Current() *Loop { return nil }

// Ended reports true.
func (l *Loop) Ended() bool { return true }

// Start fails: event loops need Linux's epoll.
func Start(n int) (*Group, error) { return nil, errors.New("evloop: event loops need Linux") }
