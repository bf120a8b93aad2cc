package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"

	"github.com/rampart-dev/rampart/internal/cluster"
	"github.com/rampart-dev/rampart/internal/firewall"
	"github.com/rampart-dev/rampart/internal/topology"
)

// runFirewall is `rampart firewall show NAME`: the server's rules as
// derived from the topology, the nftables script, and, for a netns site
// that is running, the live table with its counters.
func runFirewall(args []string) error {
	fs := flag.NewFlagSet("firewall", flag.ContinueOnError)
	var site siteFlags
	site.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "show" {
		return errors.New("usage: rampart firewall show NAME [-f FILE | --preset P | --state DIR]")
	}
	name := pos[1]
	var t *topology.Topology
	var ns *cluster.Netns
	if site.file != "" || site.preset != "" {
		if t, err = site.load(""); err != nil {
			return err
		}
	} else if t, ns, err = runningSite(site.state); err != nil {
		return fmt.Errorf("%w; or name a topology with -f FILE or --preset NAME", err)
	}
	rs, err := firewall.For(t, name)
	if err != nil {
		return err
	}
	fmt.Print(rs.String())
	if ns == nil {
		fmt.Printf("\nnftables script (applied atomically as root):\n%s", rs.Script())
		return nil
	}
	fmt.Printf("\nlive table in namespace %s:\n", ns.Namespaces[name])
	cmd := exec.Command("ip", "netns", "exec", ns.Namespaces[name], "nft", "list", "table", "inet", firewall.Table)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}
