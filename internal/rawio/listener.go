package rawio

import "net"

// Listener returns ln with every accepted connection wrapped by Wrap.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}

// LoopListener returns ln with every accepted connection detached from
// Go's poller (Detach), for tasks on event loops; a goroutine can still use
// them. Where that fails (no descriptor left for the duplicate), or off
// Linux, a connection is wrapped by Wrap instead.
func LoopListener(ln net.Listener) net.Listener { return loopListener{ln} }

type loopListener struct{ net.Listener }

func (l loopListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if d, err := Detach(c); err == nil {
		return d, nil
	}
	return Wrap(c), nil
}
