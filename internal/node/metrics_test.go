package node

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-dev/rampart/internal/metrics"
	"github.com/rampart-dev/rampart/internal/topology"
)

func TestMonitoringOffInstrumentsNothing(t *testing.T) {
	topo, err := topology.Preset("seed")
	if err != nil {
		t.Fatal(err)
	}
	off := false
	topo.Monitoring.Enabled = &off
	lb, _ := topo.Server("lb-1")
	n := &Node{topo: topo, server: lb, registry: newRegistry(topo, lb)}
	if n.monitored() {
		t.Fatal("monitoring is off, yet the server is instrumented")
	}
	// An untyped nil, so that serve and lb add nothing to the request path.
	if obs := n.observer(topology.ServiceHTTPS); obs != nil {
		t.Errorf("observer %#v with monitoring off, want nil", obs)
	}
	for _, name := range gathered(t, n.registry.gatherer) {
		if strings.HasPrefix(name, "rampart_") {
			t.Errorf("monitoring is off, yet %s is exported", name)
		}
	}
}

func TestEveryMetricCarriesTheServerName(t *testing.T) {
	topo, err := topology.Preset("seed")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := topo.Server("server-1")
	n := &Node{topo: topo, server: s, registry: newRegistry(topo, s)}
	if n.observer(topology.ServiceWeb) == nil {
		t.Fatal("no observer with monitoring on")
	}
	// A role's own collector, registered through the hook, gets the label too.
	n.registry.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: metrics.DBUp, Help: "test"}))
	fams, err := n.registry.gatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range fams {
		seen[f.GetName()] = true
		for _, m := range f.GetMetric() {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == metrics.LabelServer && l.GetValue() == "server-1" {
					found = true
				}
			}
			if !found {
				t.Errorf("%s has no server=\"server-1\" label", f.GetName())
			}
		}
	}
	for _, name := range []string{metrics.ServerInfo, metrics.ScrapeTime, metrics.DBUp, "process_cpu_seconds_total"} {
		if !seen[name] {
			t.Errorf("%s is not exported", name)
		}
	}
}

func gathered(t *testing.T, g prometheus.Gatherer) []string {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fams {
		out = append(out, f.GetName())
	}
	return out
}
