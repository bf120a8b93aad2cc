//go:build !unix

package rawio

import "net"

// Wrap returns c unchanged: only unix has the raw path.
func Wrap(c net.Conn) net.Conn { return c }
