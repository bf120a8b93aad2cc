// Package verify is the live proof behind `rampart verify`: against a
// running site it probes every (source server, destination server, port)
// triple from inside the source, compares what is open with what the
// topology's flows declare, checks that plaintext is refused wherever mutual
// TLS is declared, and checks the health of every server.
//
// It only observes: it never changes a firewall, a listener or a server.
package verify
