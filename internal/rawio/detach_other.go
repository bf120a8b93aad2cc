//go:build !linux

package rawio

import "net"

// Detach returns c unchanged: only Linux has event loops to detach for.
func Detach(c net.Conn) (net.Conn, error) { return c, nil }
