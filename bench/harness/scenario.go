package harness

import (
	"fmt"
	"slices"
	"strings"
)

// Scenario is one kind of load, run against each of its peers in turn.
type Scenario struct {
	Name  string // short, for flags, CSV and file names
	Title string // for the table and the chart
	// Handshakes: openssl s_time, a full TLS handshake per connection.
	// Otherwise wrk, with Close making a new (resumed) connection per request.
	Handshakes bool
	Close      bool
	Path       string
	// Peers run in this scenario; Base is the one whose ratio to each of the
	// others is reported.
	Peers []string
	Base  string
}

// Scenarios are the benchmark's scenarios, in report order.
var Scenarios = []Scenario{
	{
		Name: "keepalive", Title: "HTTPS keep-alive, 128 B body", Path: PathSmall,
		Peers: slices.Concat(ThirdParty, []string{PeerHAProxyControl, PeerRampart}), Base: PeerRampart,
	},
	{
		Name: "resume", Title: "new connection per request, TLS session resumed", Path: PathSmall, Close: true,
		Peers: allPeers(), Base: PeerRampart,
	},
	{
		Name: "handshake", Title: "new connection per request, full TLS handshake", Path: PathSmall, Handshakes: true,
		Peers: allPeers(), Base: PeerRampart,
	},
	{
		Name: "100k", Title: "HTTPS keep-alive, 100 KiB body", Path: PathLarge,
		Peers: allPeers(), Base: PeerRampart,
	},
	{
		Name: "reencrypt", Title: "rampart: reencrypt (mTLS to backends) vs terminate", Path: PathSmall,
		Peers: []string{PeerRampart, PeerRampartControl, PeerRampartReencrypt}, Base: PeerRampartReencrypt,
	},
	{
		// Keep-alive with a small body: where the per-request cost of
		// counting weighs most against the proxying itself.
		Name: "monitoring", Title: "rampart: monitoring on (scraped every 1s) vs off", Path: PathSmall,
		Peers: []string{PeerRampart, PeerRampartControl, PeerRampartMonitored}, Base: PeerRampartMonitored,
	},
}

func allPeers() []string { return append(append([]string(nil), ThirdParty...), PeerRampart) }

// selectScenarios returns the scenarios named in names (all when empty),
// keeping only peers in enabled.
func selectScenarios(names []string, enabled map[string]bool) ([]Scenario, error) {
	want, unknown := map[string]bool{}, map[string]bool{}
	for _, n := range names {
		want[n], unknown[n] = true, true
	}
	var out []Scenario
	for _, s := range Scenarios {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		delete(unknown, s.Name)
		var peers []string
		for _, p := range s.Peers {
			if enabled[p] {
				peers = append(peers, p)
			}
		}
		s.Peers = peers
		out = append(out, s)
	}
	if len(unknown) > 0 {
		var names []string
		for n := range unknown {
			names = append(names, n)
		}
		return nil, fmt.Errorf("unknown scenario %s (want %s)", strings.Join(names, ", "), scenarioNames())
	}
	return out, nil
}

func scenarioNames() string {
	var n []string
	for _, s := range Scenarios {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

// rotate returns peers starting at offset round, so no peer always runs
// first (on a cold cache) or right after the same neighbour.
func rotate(peers []string, round int) []string {
	if len(peers) == 0 {
		return nil
	}
	k := round % len(peers)
	return append(append([]string(nil), peers[k:]...), peers[:k]...)
}
