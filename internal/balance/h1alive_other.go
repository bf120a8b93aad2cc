//go:build !unix

package balance

// alive cannot peek at a socket here without blocking, so it trusts the
// connection: a request that is not safe to repeat may then meet one the
// upstream closed while idle, and fail. Set Config.StdlibTransport there.
func (c *h1Conn) alive() bool { return true }
