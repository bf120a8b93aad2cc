// Package app owns the app role: it keeps the application process running on
// an app server, and it holds the built-in demo application that rampart runs
// when a site has no program of its own.
//
// The Supervisor starts the program with its address in PORT and HOST,
// appends its output to a rotated log file, restarts it with exponential
// backoff when it exits and reports when it accepts connections. The program
// must never outlive rampart: it runs in its own process group, which is
// terminated on shutdown, and on Linux the kernel signals it if rampart dies.
//
// The demo (NewDemo, RunDemo, Codebase) shows which lb, web and app served a
// request and keeps a small guestbook. It trusts the hop headers it receives,
// so it must only listen where rampart's own app server is its one client.
// Neither part chooses servers or terminates TLS.
package app
