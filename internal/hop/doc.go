// Package hop owns what travels with a request from one server to the next:
// the header names rampart sets, the Via chain that tells which lb, web and
// app served a request, and the rule for the verified client certificate
// header.
//
// The client certificate header is trusted only when it arrives over a
// mutually authenticated TLS connection from a peer that the topology allows.
// Everywhere else it is removed, so a client can never forge it. This package
// must never decide who is allowed: callers pass the verdict in.
package hop
