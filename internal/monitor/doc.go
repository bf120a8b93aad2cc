// Package monitor is the collector behind the monitor role. It scrapes
// every server's admin endpoint over mutual TLS on a fixed interval, keeps
// the history in memory within a stated bound (Store), derives QPS, error
// ratios and latency percentiles per server, per tier and for the site,
// evaluates alert rules with for-durations, and serves the dashboard: the
// site's diagram computed from the topology's flows, brought to life with
// live figures, charts and alerts. `rampart export prometheus` writes the
// same scrape targets and rules for a real Prometheus.
//
// Data flows one way: scrape -> store -> queries -> rules and dashboard. A
// scrape that fails is recorded as a gap, never as zero, and every figure
// computed across it is missing rather than wrong. The collector never
// writes to a server it watches, never decides ports or peers (they come
// from the topology), and never keeps more history than its bound.
package monitor
