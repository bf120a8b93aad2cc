// Package dbtest holds the end-to-end tests of the database tier as a user
// meets it: `rampart up` with the seed and ha presets, writes through the
// load balancer, web and app servers and each app server's router, real
// mariadbd processes killed on purpose, and checks made on every db server.
//
// It has no code of its own beyond the tests; they run when RAMPART_E2E=1.
// It must never touch addresses outside 127.0.34.0/24 and 127.0.35.0/24,
// nor signal a process that its own `up` did not start.
package dbtest
