//go:build !linux

package rawio

import (
	"context"
	"errors"
	"net"
	"time"
)

// Detach returns c unchanged: only Linux has event loops to detach for.
func Detach(c net.Conn) (net.Conn, error) { return c, nil }

// ErrNotLiteral is what DialLoop returns off Linux, for every address:
// the caller dials the ordinary way.
var ErrNotLiteral = errors.New("rawio: no loop dialing on this system")

// DialLoop always fails with ErrNotLiteral off Linux.
func DialLoop(ctx context.Context, addr string, timeout, keepAlive time.Duration) (net.Conn, error) {
	return nil, ErrNotLiteral
}
