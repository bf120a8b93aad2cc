// Package db owns the db role: one local MariaDB server (mariadbd) per db
// server of the site, its files, its users and its place in the cluster.
//
// A Server keeps mariadbd running from a directory of its own under the
// state directory (datadir, socket, error log, TLS files, scratch space for
// state transfers) with a config that rampart writes at every start
// (config.go). mariadbd runs as the unprivileged mysql user, never as root;
// when rampart runs as root it starts mariadbd in a private mount namespace
// where everything above that directory is hidden (run_linux.go), so the
// state directory may stay private. Before it starts anything it ends every
// process left from an earlier run of the same directory (stray_linux.go),
// found by a marker in its environment, because a leftover server on a
// cluster port would merge into the new cluster.
//
// Under primary-replica the primary takes writes and each replica follows it
// with GTID replication, read-only (setup.go). Under galera every node
// takes writes. A node that crashed is restarted with the position that
// `mariadbd --wsrep-recover` finds, so it rejoins with an incremental
// transfer. When no node of the cluster is running, the nodes tell each
// other their positions over the Galera port before mariadbd binds it
// (beacon.go), and only the most advanced node, or the one Galera marked
// safe_to_bootstrap, starts a new primary component (bootstrap.go).
//
// Remote clients need TLS with a certificate from the site CA and a password
// from the credentials file (credentials.go); replication and Galera traffic
// use mutual TLS from the same CA.
//
// The package must never bootstrap while another node may hold newer data,
// never run mariadbd as root, and never signal a process it cannot prove is
// its own. It decides no ports or peers itself: they come from the topology.
package db
