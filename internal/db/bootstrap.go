package db

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Report is what a stopped Galera node tells its peers about its data, so
// that they can agree on which node may start a new cluster.
type Report struct {
	Name     string   `json:"name"`
	Position Position `json:"position"`
	// SafeToBootstrap is grastate.dat's flag: this node left last, cleanly.
	SafeToBootstrap bool `json:"safe_to_bootstrap"`
	// Fresh is set on a node that never joined a cluster: its data is only
	// what mariadb-install-db wrote.
	Fresh bool `json:"fresh"`
}

// peerState is what probing one peer's Galera port found.
type peerState struct {
	Name string
	// Live is set when mariadbd itself answered: a cluster may exist.
	Live bool
	// Report is the peer's answer when its mariadbd is stopped too; nil when
	// the peer did not answer at all.
	Report *Report
}

// action is what a stopped Galera node does next.
type action int

const (
	actWait      action = iota // not yet safe to do anything
	actJoin                    // start mariadbd and join the running cluster
	actBootstrap               // start mariadbd as a new primary component
)

func (a action) String() string {
	return [...]string{"wait", "join", "bootstrap"}[a]
}

// decide chooses what the stopped node self does, given what its peers said.
// order is every db server's name in file order, which breaks ties.
//
// A node joins as soon as any peer's mariadbd runs. Otherwise it bootstraps
// only when it is provably the right node: the one Galera marked
// safe_to_bootstrap, or, once every peer has reported, the one with the
// highest seqno (after a crash no node is marked). A new cluster of fresh
// nodes starts on the first db server. Anything else waits: a missing peer
// may hold newer data.
func decide(self Report, order []string, peers []peerState) (action, string) {
	for _, p := range peers {
		if p.Live {
			return actJoin, fmt.Sprintf("%s is running: joining its cluster", p.Name)
		}
	}
	if self.SafeToBootstrap && !self.Fresh {
		return actBootstrap, "this node left the cluster last (safe_to_bootstrap: 1)"
	}
	reports := []Report{self}
	var missing []string
	for _, p := range peers {
		switch {
		case p.Report == nil:
			missing = append(missing, p.Name)
		case p.Report.SafeToBootstrap && !p.Report.Fresh:
			return actWait, fmt.Sprintf("%s left the cluster last and starts it; waiting to join", p.Name)
		default:
			reports = append(reports, *p.Report)
		}
	}
	if len(missing) > 0 {
		return actWait, fmt.Sprintf("no cluster is running; waiting for %s to report, since only the most advanced node may start it",
			strings.Join(missing, ", "))
	}
	var clusters []string
	for _, r := range reports {
		if !r.Fresh && r.Position.UUID != "" && r.Position.UUID != zeroUUID && !slices.Contains(clusters, r.Position.UUID) {
			clusters = append(clusters, r.Position.UUID)
		}
	}
	if len(clusters) > 1 {
		return actWait, fmt.Sprintf("the nodes hold data of %d different clusters (%s); rampart will not choose one: bootstrap the right node by hand",
			len(clusters), strings.Join(clusters, ", "))
	}
	best := mostAdvanced(reports, order)
	if best.Name == self.Name {
		if self.Fresh {
			return actBootstrap, "no node holds data yet: starting a new cluster on the first db server"
		}
		return actBootstrap, fmt.Sprintf("no cluster is running and this node is the most advanced (seqno %d)", self.Position.Seqno)
	}
	if best.Fresh {
		return actWait, fmt.Sprintf("no node holds data yet: %s starts the new cluster; waiting to join it", best.Name)
	}
	return actWait, fmt.Sprintf("%s is the most advanced (seqno %d); waiting for it to start the cluster", best.Name, best.Position.Seqno)
}

// mostAdvanced returns the report of the node to bootstrap from: one with
// data before a fresh one, then the highest seqno, then the first in order.
func mostAdvanced(reports []Report, order []string) Report {
	rank := func(r Report) int {
		if i := slices.Index(order, r.Name); i >= 0 {
			return i
		}
		return len(order)
	}
	return slices.MinFunc(reports, func(a, b Report) int {
		if a.Fresh != b.Fresh {
			if a.Fresh {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(b.Position.Seqno, a.Position.Seqno); c != 0 {
			return c
		}
		return cmp.Compare(rank(a), rank(b))
	})
}
