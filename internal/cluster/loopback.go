package cluster

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-dev/rampart/internal/topology"
)

// Loopback adapts a topology to run on this machine: every server gets its
// own address in 127.0.1.0/24 unless it already has a loopback address, and
// when this process may not bind ports below the system's unprivileged
// limit, the site's ports move up by 8000 (443 -> 8443, 80 -> 8080). It
// returns notes that say what changed.
func Loopback(t *topology.Topology) (notes []string) {
	for i := range t.Servers {
		s := &t.Servers[i]
		if a, err := netip.ParseAddr(s.Address); err == nil && a.IsLoopback() {
			continue
		}
		addr := fmt.Sprintf("127.0.1.%d", i+1)
		notes = append(notes, fmt.Sprintf("%s: address %s -> %s (loopback mode)", s.Name, s.Address, addr))
		s.Address = addr
	}
	// `up` itself checks every server's admin endpoint from this host.
	if !slices.Contains(t.Firewall.AdminCIDRs, "127.0.0.1/32") {
		t.Firewall.AdminCIDRs = append(t.Firewall.AdminCIDRs, "127.0.0.1/32")
		notes = append(notes, "firewall: admin_cidrs += 127.0.0.1/32 (so up can reach the admin endpoints)")
	}
	if limit := unprivilegedPortStart(); os.Geteuid() != 0 {
		for _, p := range []*int{&t.Site.HTTPSPort, &t.Site.HTTPPort} {
			if *p < limit {
				notes = append(notes, fmt.Sprintf("port %d -> %d (not root; binding below %d needs root)", *p, *p+8000, limit))
				*p += 8000
			}
		}
	}
	return notes
}

// unprivilegedPortStart reads the lowest port an unprivileged process may
// bind on Linux; elsewhere it is 1024.
func unprivilegedPortStart() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 1024
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 1024
	}
	return n
}
