// Package serve runs an http.Handler on a listener the way every rampart
// server must: with read-header and idle timeouts and a header size limit
// against slow clients, optional TLS, and a graceful drain when the context
// ends. It owns no handler logic and never opens a listener itself: callers
// bind first, so a port in use is reported before anything starts.
//
// By default it runs net/http's server. With Options.OwnHTTP1, which the
// lb's public listener sets, HTTP/1.x connections are served by the
// package's own connection loop (http1.go, http1_response.go): it parses
// requests with net/http's parser (a simple bodyless head with
// readSimpleRequest, which makes the very same request for less, or
// declines; with Options.ReuseRequests, into the memory of the
// connection's request before) and follows net/http's framing and
// keep-alive rules, but reads nothing while a short handler runs (only a
// request that runs for a second is watched for its client leaving),
// gives each request a cheaper context (http1_context.go), takes a
// proxy's response header lines as bytes (WriteHeaderLines) and writes
// each response with one system call. HTTP/2 connections still go to
// net/http. http1_test.go holds the two side by side on the same raw
// requests, http1_request_test.go the two request parsers, and
// http1_reuse_test.go what a reused request must not carry over.
//
// With Options.Loops as well, each HTTP/1.x connection is a task on one of
// that many event loops (package evloop) instead of a goroutine: the same
// code, whose reads and writes park on the loop's own thread. A request
// that may wait on anything else (a body, an Expect, an upgrade) and a
// lingering close move their connection to a goroutine for good, so that
// no loop waits for them. The differential tests run the own loop both
// ways, reusing requests as the lb does.
package serve
