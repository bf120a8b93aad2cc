// Package node runs one server of the site: it binds every listener the
// topology's flows give the server, builds the server's roles (lb, web,
// app, db and its router, monitor) with the right TLS on each hop, and
// serves the admin endpoint (health, status and metrics, mutual TLS only)
// that every server has.
//
// A node binds all its listeners and loads all its certificates before it
// serves anything, so a port in use or a bad certificate stops it with one
// line and nothing half-started. It never decides ports or peers itself:
// those come from the topology.
package node
