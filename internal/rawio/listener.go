package rawio

import "net"

// Listener returns ln with every accepted connection detached from Go's
// poller (Detach), ready for tasks on event loops and usable from any
// goroutine. Where that fails (no descriptor left for the duplicate), or
// off Linux, the connection is wrapped by Wrap instead.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if d, err := Detach(c); err == nil {
		return d, nil
	}
	return Wrap(c), nil
}
