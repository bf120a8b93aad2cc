// Package lb owns the public edge of the site: the HTTPS listener with its
// TLS profile (PublicTLS), the plain-HTTP listener that only redirects to
// HTTPS and answers ACME challenges, HSTS, and the headers every request
// carries inward: X-Forwarded-*, X-Request-Id, Via and the verified client
// certificate. It serves until its context ends, then drains.
//
// The lb is the edge, so it must never pass on what a client claims about
// the path or the identity: X-Forwarded-*, Via, X-Request-Id and the
// client-certificate header sent by a client are replaced, never extended.
// It must never choose a web server either: that is the balance.Pool's job.
//
// For speed, HTTPS/1.1 clients are served by package serve's own HTTP/1.x
// loop (Config.StdlibServer turns it off), and a process running an lb
// collects garbage less often (TuneGC) and has a spare P for the raw socket
// calls of internal/rawio (TuneProcs); docs/performance.md has the figures.
// Config.EventLoops serves those clients as tasks on event loops
// (internal/evloop) instead; it is off by default, because on the
// benchmark machine it did not beat goroutines behind Go backends.
package lb
