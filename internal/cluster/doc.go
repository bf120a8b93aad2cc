// Package cluster is `rampart up`: it runs every server of a topology on
// this machine, each as its own `rampart node` process on its own loopback
// address (or, with --isolation netns, in its own network namespace), shows
// each one coming up, supervises them (restarting a server that dies), and
// stops them all on a signal, leaving no process behind.
//
// It prepares what the servers share (the resolved topology and the site's
// certificates) before it starts any of them. It never serves traffic
// itself.
package cluster
