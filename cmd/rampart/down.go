package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/rampart-dev/rampart/internal/cluster"
)

// runDown removes what a netns site left behind after `up` was killed: its
// namespaces (and every process inside them), veths and bridge.
func runDown(args []string) error {
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	var site siteFlags
	site.register(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	ns, err := cluster.LoadNetns(site.state)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Printf("nothing to remove: no netns site recorded in %s\n", site.state)
		return nil
	}
	if err != nil {
		return err
	}
	removed, err := ns.Remove(site.state)
	for _, r := range removed {
		fmt.Println("removed", r)
	}
	if err != nil {
		return err
	}
	if len(removed) == 0 {
		fmt.Println("nothing left to remove")
	}
	return nil
}
