// Package firewall turns the topology's flows into each server's firewall
// and enforces it: with nftables (one table of rampart's own per server,
// applied atomically, a named set per peer group, a counter on every rule
// and rate-limited logging of drops), or in userspace, where each listener
// accepts only the sources its flows allow.
//
// Rules are derived, never written: a port or a peer enters the firewall
// only through topology.Flows. This package must never touch a table other
// than its own, and never decide what is allowed.
package firewall
