// Package review is the design review behind `rampart check`. It reads a
// topology and its derived flows and reports each weakness of the design as
// a Finding: a stable ID, a severity, the servers and flows involved, why it
// matters, and a fix that is both a sentence for people and an edit of the
// topology that makes the finding go away.
//
// Each family of findings lives in a file of its own (tls.go, database.go,
// colocation.go, spof.go, monitoring.go, firewall.go). The review computes no
// ports or peers itself: it reads them from the topology's flows. It must
// never open a socket, read a certificate or start anything, and never write
// the user's file: a fix is applied to a copy.
package review
