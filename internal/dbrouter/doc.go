// Package dbrouter owns the local database router of an app server: a TCP
// proxy on loopback that the application connects to as if it were the
// database, and that sends each new connection to a healthy db server.
//
// Health is read with real SQL over mutual TLS, as the monitor user, by a
// Check that knows the replication mode (check.go): under galera a backend
// must be Synced in a primary component, under primary-replica it must be
// the writable primary. Among healthy backends the first in the topology's
// order is chosen, so every router agrees on one preferred Galera writer and
// transactions rarely conflict in certification. A backend that refuses a
// connection, or fails its checks, is left at once. The connections it
// carried are closed, so the application reconnects to a healthy one,
// unless the check says they still work there: a Galera donor only delays
// their commits, and closing them would fail the writes in flight.
//
// The router forwards bytes only: the MySQL protocol's TLS runs end to end
// between the application and the db server, so the router never sees
// passwords or data. It never chooses a server the checks have not passed,
// and it decides no addresses itself: backends come from the topology.
package dbrouter
