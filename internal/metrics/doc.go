// Package metrics owns what rampart measures: the name, labels and buckets
// of every metric a server exports, and the instrumentation that feeds them
// (HTTP handlers, TLS handshakes, backend pools, certificates, the host).
// The collector (package monitor) and `rampart export prometheus` read the
// names from here, so each metric is named once.
//
// Instrumentation must stay off the request path's bill: label sets are
// resolved once and cached, a request costs a few atomic adds and no
// allocation, and whatever can be read when a scrape comes (pool state,
// certificate expiry, host counters) is read then rather than pushed. This
// package must never decide what a server runs, nor open a listener.
package metrics
