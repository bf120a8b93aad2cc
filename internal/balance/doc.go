// Package balance owns an upstream pool: the set of servers one role proxies
// to, their health, and the choice of which one serves each request. The lb
// uses it over the web servers and the web role over the app servers.
//
// A Pool is an http.Handler. It picks an available upstream with a swappable
// Selector (policy.go), proxies through one shared keep-alive transport
// (transport.go), retries a request that provably got no answer on another
// upstream when that is safe (retry.go), ejects an upstream for a while after
// a connection error, and marks upstreams up or down from active health checks
// with rise and fall thresholds (health_check.go). Each upstream's live state
// has one owner, Host (host.go).
//
// The transport is the pool's own HTTP/1.1 path (h1transport.go, h1conn.go):
// the handler's goroutine writes the request and reads the response on a
// pooled keep-alive connection, and a direct proxy (direct_proxy.go) does what
// httputil.ReverseProxy would around it. A simple response head is read as
// bytes and passed on as it came (h1head.go), to a writer that takes header
// lines (package serve's) or into a header map. Protocol upgrades and the few other
// requests it leaves out go through httputil.ReverseProxy and net/http's
// Transport, as every request does with Config.StdlibTransport. A request
// served by a task on an event loop (package evloop) draws on idle
// connections kept for that loop alone, which stay registered with its
// epoll and nowhere else (rawio.LoopConn).
//
// Upstreams start healthy, so a site serves the moment it starts; a dead one
// is caught by the first request that cannot connect. Any attempt that gets
// no response (refused, reset, EOF or timeout before the headers, TLS
// failure), except one the client itself abandoned, ejects the upstream for
// EjectFor; the ejection ends early once Rise consecutive active checks, all
// begun after it, have passed. A response, even a 5xx, is the upstream's
// answer: it is passed on, never retried, and never ejects.
//
// The package must never decide which headers a hop trusts or adds: callers
// do that in the hooks (Rewrite, RemoveResponseHeaders). It never retries a
// request that may have reached an upstream unless the request is
// idempotent, and it never logs per request except rate-limited errors.
package balance
