package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rampart-dev/rampart/internal/monitor"
	"github.com/rampart-dev/rampart/internal/topology"
)

func runStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	state := fs.String("state", defaultStateDir(), "state `directory` of the running site")
	asJSON := fs.Bool("json", false, "print the collector's state as JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	op, err := openRunning(*state)
	if err != nil {
		return err
	}
	t, client := op.topo, op.client
	client.Timeout = 5 * time.Second
	st, why := collectorState(ctx, client, t)
	if *asJSON {
		if st == nil {
			return fmt.Errorf("status: %s", why)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	if st == nil {
		// No collector to ask: the servers' own health is all there is.
		st = healthOnly(ctx, client, t)
	}
	printStatus(os.Stdout, t, st, why)
	if url, _, ok := monitor.DashboardURL(t, op.ca); ok {
		fmt.Printf("\ndashboard %s\n", url)
	}
	return nil
}

// collectorState asks the monitor for the site's state with the admin
// certificate; on failure it returns why.
func collectorState(ctx context.Context, c *http.Client, t *topology.Topology) (*monitor.State, string) {
	mons := t.WithRole(topology.RoleMonitor)
	if !t.MonitoringEnabled() || len(mons) == 0 {
		return nil, "the site has no collector (no server with the monitor role, or monitoring.enabled is false)"
	}
	url := "https://" + mons[0].HostPort(t.Ports.Dashboard) + "/api/state"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Sprintf("the collector on %s does not answer: %v", mons[0].Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return nil, fmt.Sprintf("the collector on %s: %s: %s", mons[0].Name, resp.Status, strings.TrimSpace(string(body)))
	}
	var st monitor.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Sprintf("the collector on %s: %v", mons[0].Name, err)
	}
	return &st, ""
}

// healthOnly probes every server's admin /healthz.
func healthOnly(ctx context.Context, c *http.Client, t *topology.Topology) *monitor.State {
	st := &monitor.State{Domain: t.Site.Domain}
	nan := monitor.Num(math.NaN())
	for _, s := range t.Servers {
		ss := monitor.ServerState{Name: s.Name, Address: s.Address, Health: monitor.Down}
		ss.QPS, ss.P99 = nan, nan
		for _, r := range s.Roles {
			ss.Roles = append(ss.Roles, string(r))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+s.HostPort(t.Ports.Admin)+"/healthz", nil)
		resp, err := c.Do(req)
		if err != nil {
			ss.Error = err.Error()
		} else {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ss.Health = monitor.Up
			} else {
				ss.Error = strings.TrimSpace(string(body))
			}
		}
		st.Servers = append(st.Servers, ss)
	}
	st.Site.QPS, st.Site.P50, st.Site.P99, st.Site.ErrorRatio = nan, nan, nan, nan
	return st
}

func printStatus(w io.Writer, t *topology.Topology, st *monitor.State, why string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tADDRESS\tROLES\tHEALTH\tQPS\tP99\tALERTS")
	for _, s := range st.Servers {
		var alerts []string
		for _, a := range st.Alerts {
			if a.State == monitor.Firing && a.Labels["server"] == s.Name {
				alerts = append(alerts, a.Rule)
			}
		}
		al := "-"
		if len(alerts) > 0 {
			al = strings.Join(alerts, ",")
		}
		health := s.Health
		if s.Health == monitor.Down && s.Error != "" {
			health += " (" + shorten(s.Error, 48) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Address, strings.Join(s.Roles, ","), health,
			rate(s.QPS), duration(s.P99), al)
	}
	tw.Flush()
	if why != "" {
		fmt.Fprintf(w, "\nno figures: %s; health from each server's admin endpoint\n", why)
		return
	}
	firing := 0
	for _, a := range st.Alerts {
		if a.State == monitor.Firing {
			firing++
		}
	}
	fmt.Fprintf(w, "\nsite %s: %s, p50 %s, p99 %s, 5xx %s, %d alert(s) firing (figures over the last %gs)\n",
		st.Domain, rate(st.Site.QPS), duration(st.Site.P50), duration(st.Site.P99), percent(st.Site.ErrorRatio), firing, st.Window)
	for _, a := range st.Alerts {
		var ls []string
		for k, v := range a.Labels {
			ls = append(ls, k+"="+v)
		}
		since := a.Since
		if a.Fired != nil {
			since = *a.Fired
		}
		fmt.Fprintf(w, "  %-8s %-9s %s {%s} for %s\n", a.State, a.Severity, a.Rule, strings.Join(slices.Sorted(slices.Values(ls)), ", "),
			time.Since(since).Round(time.Second))
	}
}

func rate(n monitor.Num) string {
	if !n.Known() {
		return "-"
	}
	return fmt.Sprintf("%.1f/s", float64(n))
}

func duration(n monitor.Num) string {
	if !n.Known() {
		return "-"
	}
	d := time.Duration(float64(n) * float64(time.Second))
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func percent(n monitor.Num) string {
	if !n.Known() {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", float64(n)*100)
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
