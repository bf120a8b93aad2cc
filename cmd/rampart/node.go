package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"

	"github.com/rampart-dev/rampart/internal/node"
)

func runNode(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	var site siteFlags
	site.register(fs)
	fw := fs.String("firewall", "auto", "firewall backend: auto, nftables, userspace or off")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("node: name one server: rampart node NAME -f FILE")
	}
	t, err := site.load("")
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	n, err := node.New(node.Config{Topology: t, Name: pos[0], StateDir: site.state, Firewall: *fw, Logger: logger})
	if err != nil {
		return err
	}
	return n.Run(ctx)
}
