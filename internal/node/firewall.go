package node

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/rampart-dev/rampart/internal/firewall"
)

// Firewall backends a node can use.
const (
	FirewallAuto      = "auto"      // nftables when root on Linux with nft, else userspace
	FirewallNftables  = "nftables"  // the kernel drops what no flow allows
	FirewallUserspace = "userspace" // each listener refuses what no flow allows
	FirewallOff       = "off"
)

// setupFirewall enforces the server's ruleset before any listener serves.
func (n *Node) setupFirewall() error {
	if !n.topo.Firewalled(n.server) || n.cfg.Firewall == FirewallOff {
		n.log.Warn("firewall disabled: every port this server listens on is open to anyone")
		return nil
	}
	rs, err := firewall.For(n.topo, n.server.Name)
	if err != nil {
		return err
	}
	n.ruleset = rs
	backend := n.cfg.Firewall
	if backend == "" || backend == FirewallAuto {
		backend = FirewallUserspace
		if runtime.GOOS == "linux" && os.Geteuid() == 0 && firewall.Available() == nil {
			backend = FirewallNftables
		}
	}
	n.bans = firewall.NewBans(n.log)
	switch backend {
	case FirewallNftables:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rs.Apply(ctx); err != nil {
			return fmt.Errorf("%s: firewall: %w", n.server.Name, err)
		}
		n.bans.Kernel = firewall.NftBans{}
		if len(n.topo.Firewall.AdminCIDRs) == 0 {
			n.log.Warn("firewall: firewall.admin_cidrs is empty, so SSH and the admin endpoint are closed to every host but the monitor; list your admin networks to keep a way in")
		}
		n.cleanup = append(n.cleanup, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := firewall.Remove(ctx); err != nil {
				n.log.Error("firewall: remove table", "err", err)
			}
		})
	case FirewallUserspace:
		n.guard = firewall.NewGuard(rs, n.bans, n.log)
		for s, ln := range n.lns {
			n.lns[s] = n.guard.Listener(ln, n.topo.Port(s))
		}
	default:
		return fmt.Errorf("firewall backend %q: want auto, nftables, userspace or off", backend)
	}
	n.firewallBackend = backend
	n.status["firewall"] = n.firewallStatus
	n.runners = append(n.runners, n.bans.Run)
	n.log.Info("firewall applied", "backend", backend, "rules", len(rs.Rules))
	return nil
}

// firewallStatus is the firewall's part of the admin /status document.
func (n *Node) firewallStatus() any {
	doc := map[string]any{"backend": n.firewallBackend, "rules": len(n.ruleset.Rules),
		"bans_active": n.bans.Active(), "bans_total": n.bans.Total(), "bans_expired": n.bans.Expired()}
	if n.guard != nil {
		doc["refused_by_port"] = n.guard.Refused()
	}
	if n.firewallBackend == FirewallNftables {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if c, err := firewall.Counters(ctx); err == nil {
			doc["counters"] = c
		}
	}
	return doc
}
