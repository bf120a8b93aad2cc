// Package serve runs an http.Handler on a listener the way every rampart
// server must: with read-header and idle timeouts and a header size limit
// against slow clients, optional TLS, and a graceful drain when the context
// ends. It owns no handler logic and never opens a listener itself: callers
// bind first, so a port in use is reported before anything starts.
package serve
