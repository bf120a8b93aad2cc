package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rampart-dev/rampart/internal/cluster"
	"github.com/rampart-dev/rampart/internal/topology"
)

func runUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var site siteFlags
	site.register(fs)
	timeout := fs.Duration("timeout", 0, "how long to wait for every server to become healthy (default 60s, 3m with db servers)")
	isolation := fs.String("isolation", "loopback", "how servers are kept apart: loopback, or netns (root, Linux: a network namespace and nftables per server)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	t, err := site.load("seed")
	if err != nil {
		return err
	}
	if *timeout == 0 {
		*timeout = 60 * time.Second
		if len(t.WithRole(topology.RoleDB)) > 0 {
			*timeout = 3 * time.Minute // a Galera cluster can take a while to form
		}
	}
	opts := cluster.Options{Topology: t, StateDir: site.state, Out: os.Stdout, StartTimeout: *timeout}
	var notes []string
	switch *isolation {
	case "loopback":
		notes = cluster.Loopback(t)
	case "netns":
		if err := os.MkdirAll(site.state, 0o700); err != nil {
			return err
		}
		if old, err := cluster.LoadNetns(site.state); err == nil {
			return fmt.Errorf("a netns site from %s is still set up (bridge %s): run rampart down --state %s", site.state, old.Bridge, site.state)
		}
		if opts.Netns, notes, err = cluster.PlanNetns(t, site.state); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--isolation %s: want loopback or netns", *isolation)
	}
	for _, note := range notes {
		fmt.Fprintf(os.Stdout, "note: %s\n", note)
	}
	hurry, quit := secondSignal()
	defer quit()
	opts.Hurry = hurry
	return cluster.Up(ctx, opts)
}

// secondSignal returns a channel closed on the second Ctrl-C or SIGTERM:
// the first starts the graceful stop (main's context), the second cuts it
// short. quit stops listening.
func secondSignal() (hurry <-chan struct{}, quit func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	h, done := make(chan struct{}), make(chan struct{})
	go func() {
		for n := 0; ; {
			select {
			case <-sigs:
				if n++; n == 2 {
					fmt.Fprintln(os.Stdout, "rampart up: stopping now, without waiting for requests in flight")
					close(h)
					return
				}
			case <-done:
				return
			}
		}
	}()
	return h, func() { signal.Stop(sigs); close(done) }
}
