// Package harness owns rampart's side-by-side benchmark: it starts two
// identical backends, runs rampart's lb (internal/lb over internal/balance)
// beside HAProxy, nginx and Caddy configured the same way, loads each in
// turn with tools that are not rampart's code (wrk, openssl s_time),
// interleaved and repeated, and reports requests per second, p50 and p99
// latency and rampart's ratio to each peer, as a table, CSV and a chart.
// It also measures rampart's lb against itself: with mutual TLS to the
// backends, and with its server's monitoring client on and scraped, as
// internal/node wires it with monitoring enabled.
//
// It must never send traffic anywhere but loopback, never leave a process
// it started running, never pin work to CPUs or paths that do not exist,
// and never change rampart's own code paths: the lb it measures is built
// from the same packages and defaults the node uses, so a figure here is a
// figure for the product.
package harness
