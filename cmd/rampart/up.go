package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/rampart-dev/rampart/internal/cluster"
)

func runUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var site siteFlags
	site.register(fs)
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for every server to become healthy")
	isolation := fs.String("isolation", "loopback", "how servers are kept apart: loopback")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *isolation != "loopback" {
		return fmt.Errorf("--isolation %s: only loopback is available in this version", *isolation)
	}
	t, err := site.load("seed")
	if err != nil {
		return err
	}
	for _, note := range cluster.Loopback(t) {
		fmt.Fprintf(os.Stdout, "note: %s\n", note)
	}
	return cluster.Up(ctx, cluster.Options{
		Topology:     t,
		StateDir:     site.state,
		Out:          os.Stdout,
		StartTimeout: *timeout,
	})
}
