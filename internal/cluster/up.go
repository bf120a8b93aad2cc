package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rampart-dev/rampart/internal/monitor"
	"github.com/rampart-dev/rampart/internal/node"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// Options configures `up`.
type Options struct {
	Topology *topology.Topology
	StateDir string
	// Executable is the rampart binary to run each server with. Default:
	// this process's executable.
	Executable string
	// Out receives progress and the site's details.
	Out io.Writer
	// StartTimeout bounds the wait for every server to become healthy.
	StartTimeout time.Duration
	// Ready, when set, is called once every server is healthy.
	Ready func(*Site)
	// Netns, when set, runs each server in its own network namespace
	// behind nftables (see PlanNetns); otherwise servers share the host's
	// loopback and the userspace firewall.
	Netns *Netns
	// Hurry, when closed during the stop, cuts the servers' drain short:
	// those still running are killed at once (a second Ctrl-C). The
	// clean-up after them still runs.
	Hurry <-chan struct{}
}

// Site is what a running `up` tells its user.
type Site struct {
	Topology *topology.Topology
	// SitePath is the resolved topology every server runs from.
	SitePath string
	CAPath   string
	URL      string
	// Admin is the operator's client certificate for admin endpoints.
	Admin tls.Certificate
	CA    *pki.CA
	procs map[string]*process
}

// PID returns the process ID of server name's node.
func (s *Site) PID(name string) int {
	if p, ok := s.procs[name]; ok {
		return p.pid()
	}
	return 0
}

// Up runs the site until ctx ends, then stops every server.
func Up(ctx context.Context, o Options) error {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 60 * time.Second
	}
	if o.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Executable = exe
	}
	site, err := prepare(o)
	if err != nil {
		return err
	}
	t := site.Topology
	fmt.Fprintf(o.Out, "rampart up: %s from %s, %d servers, policy %s, state in %s\n",
		t.Site.Domain, o.Topology.Source, len(t.Servers), t.TLS.Policy, o.StateDir)

	if o.Netns != nil {
		if err := o.Netns.Create(t, o.StateDir); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "  network   bridge %s, %s, one namespace per server, nftables firewalls\n", o.Netns.Bridge, o.Netns.Subnet)
		defer func() {
			if _, err := o.Netns.Remove(o.StateDir); err != nil {
				fmt.Fprintf(o.Out, "rampart up: %v (run rampart down --state %s)\n", err, o.StateDir)
			}
		}()
	}
	site.procs = map[string]*process{}
	var procs []*process
	defer func() { stopAll(o.Out, t, procs, o.Hurry) }()
	for _, s := range t.Servers {
		exe, args := o.Executable, []string{"node", s.Name, "-f", site.SitePath, "--state", o.StateDir, "--firewall", "userspace"}
		if o.Netns != nil {
			args[len(args)-1] = "nftables"
			line := o.Netns.Exec(s.Name, append([]string{o.Executable}, args...)...)
			exe, args = line[0], line[1:]
		}
		p := &process{
			name:    s.Name,
			exe:     exe,
			args:    args,
			logPath: filepath.Join(o.StateDir, "logs", s.Name+".log"),
			out:     o.Out,
		}
		if err := p.start(); err != nil {
			return err
		}
		procs = append(procs, p)
		site.procs[s.Name] = p
	}
	if err := waitHealthy(ctx, o, site, procs); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(o.Out, "\nrampart up: stopped while starting")
			return nil // the user asked to stop
		}
		return err
	}
	for _, p := range procs {
		go p.supervise(ctx)
	}
	printSite(o.Out, site)
	if o.Ready != nil {
		o.Ready(site)
	}
	<-ctx.Done()
	fmt.Fprintln(o.Out, "\nrampart up: stopping")
	return nil
}

// prepare writes the resolved topology and issues every certificate, so the
// servers start from the same files and never race to create them.
func prepare(o Options) (*Site, error) {
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	data, err := yaml.Marshal(o.Topology)
	if err != nil {
		return nil, err
	}
	sitePath := filepath.Join(o.StateDir, "site.yaml")
	header := fmt.Sprintf("# Written by `rampart up` from %s; every server runs from this file.\n", o.Topology.Source)
	// 0600: app.env may hold secrets.
	if err := os.WriteFile(sitePath, append([]byte(header), data...), 0o600); err != nil {
		return nil, err
	}
	// Parse again: the file the servers read must be valid as written.
	t, err := topology.Load(sitePath)
	if err != nil {
		return nil, err
	}
	if err := preflight(t, o.Netns == nil); err != nil {
		return nil, err
	}
	ca, err := pki.OpenCA(filepath.Join(o.StateDir, "pki"), t.Site.Domain)
	if err != nil {
		return nil, err
	}
	for _, s := range t.Servers {
		if _, err := ca.ServerIdentity(s.Name, []net.IP{net.IP(s.IP().AsSlice())}); err != nil {
			return nil, err
		}
	}
	if t.TLS.Certificate.Source == topology.CertFromCA {
		if _, err := ca.SiteFromCA(t.Site.Domain); err != nil {
			return nil, err
		}
	}
	admin, err := ca.Admin()
	if err != nil {
		return nil, err
	}
	url := "https://" + t.Site.Domain
	if t.Site.HTTPSPort != 443 {
		url += fmt.Sprintf(":%d", t.Site.HTTPSPort)
	}
	return &Site{Topology: t, SitePath: sitePath, CAPath: ca.CertPath, URL: url + "/", Admin: admin, CA: ca}, nil
}

// preflight finds what would stop a server from starting before any
// starts: a port in use, a certificate file that does not load.
func preflight(t *topology.Topology, ports bool) error {
	if c := t.TLS.Certificate; c.Source == topology.CertFromFiles {
		if _, err := pki.LoadFileCertificate(c.CertFile, c.KeyFile); err != nil {
			return fmt.Errorf("tls.certificate: %w", err)
		}
	}
	for _, s := range t.Servers {
		if !ports {
			break // fresh namespaces: nothing else can hold their ports
		}
		for svc, addr := range node.Listeners(t, s) {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("%s: %s listener: %w", s.Name, svc, err)
			}
			ln.Close()
		}
	}
	return nil
}

// waitHealthy shows each server becoming healthy, and fails with the cause
// when one exits or the timeout passes.
func waitHealthy(ctx context.Context, o Options, site *Site, procs []*process) error {
	t := site.Topology
	client := AdminClient(site.CA, site.Admin)
	start := time.Now()
	healthy := map[string]bool{}
	lastWhy := map[string]string{}
	nextReport := start.Add(5 * time.Second)
	for len(healthy) < len(procs) {
		for _, p := range procs {
			if healthy[p.name] {
				continue
			}
			select {
			case <-p.exitedCh():
				return fmt.Errorf("%s did not start: %s", p.name, lastLogLine(p.logPath))
			default:
			}
			s, _ := t.Server(p.name)
			why := probeHealth(ctx, client, s.HostPort(t.Ports.Admin))
			if why == "" {
				healthy[p.name] = true
				fmt.Fprintf(o.Out, "  %-10s %-14s healthy  %5.1fs\n", p.name, roleList(s), time.Since(start).Seconds())
				continue
			}
			lastWhy[p.name] = why
		}
		if len(healthy) == len(procs) {
			break
		}
		now := time.Now()
		if now.After(start.Add(o.StartTimeout)) {
			return fmt.Errorf("servers not healthy after %s: %s", o.StartTimeout, waiting(procs, healthy, lastWhy))
		}
		if now.After(nextReport) {
			fmt.Fprintf(o.Out, "  waiting for %s\n", waiting(procs, healthy, lastWhy))
			nextReport = now.Add(5 * time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func waiting(procs []*process, healthy map[string]bool, why map[string]string) string {
	var parts []string
	for _, p := range procs {
		if !healthy[p.name] {
			parts = append(parts, fmt.Sprintf("%s (%s)", p.name, why[p.name]))
		}
	}
	return strings.Join(parts, ", ")
}

// AdminClient is an HTTP client that presents the admin certificate.
func AdminClient(ca *pki.CA, admin tls.Certificate) *http.Client {
	return &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: ca.ClientTLSFor(admin), DisableKeepAlives: true},
	}
}

// probeHealth returns "" when the admin endpoint at addr reports healthy,
// and otherwise why not.
func probeHealth(ctx context.Context, c *http.Client, addr string) string {
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+addr+"/healthz", nil)
	resp, err := c.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return "admin endpoint not listening yet"
		}
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode == http.StatusOK {
		return ""
	}
	return strings.TrimSpace(string(body))
}

func roleList(s topology.Server) string {
	var rs []string
	for _, r := range s.Roles {
		rs = append(rs, string(r))
	}
	return strings.Join(rs, ",")
}

// lastLogLine returns the last non-empty line of a server's log: the line
// that says why it stopped.
func lastLogLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "no log"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// stopAll stops the servers in the order traffic meets them, so each lb
// drains before the servers behind it go.
func stopAll(out io.Writer, t *topology.Topology, procs []*process, hurry <-chan struct{}) {
	grace := t.LB.DrainTimeout + 5*time.Second
	done := map[string]bool{}
	for _, r := range topology.Roles {
		for _, p := range procs {
			s, _ := t.Server(p.name)
			if !done[p.name] && s.Has(r) {
				p.stop(grace, hurry)
				done[p.name] = true
			}
		}
	}
	for _, p := range procs {
		if !done[p.name] {
			p.stop(grace, hurry)
		}
	}
}

func printSite(out io.Writer, site *Site) {
	t := site.Topology
	lbs := t.WithRole(topology.RoleLB)
	fmt.Fprintf(out, "\nThe site is up.\n")
	fmt.Fprintf(out, "  site      %s\n", site.URL)
	for _, l := range lbs {
		fmt.Fprintf(out, "  lb        %s (%s)\n", l.HostPort(t.Site.HTTPSPort), l.Name)
	}
	fmt.Fprintf(out, "  CA        %s\n", site.CAPath)
	fmt.Fprintf(out, "  try       curl --resolve %s:%d:%s --cacert %s %s\n",
		t.Site.Domain, t.Site.HTTPSPort, lbs[0].Address, site.CAPath, site.URL)
	if url, mon, ok := monitor.DashboardURL(t, site.CA); ok {
		fmt.Fprintf(out, "  dashboard %s (%s; the token after #token= logs in)\n", url, mon)
	}
	fmt.Fprintf(out, "  logs      %s\n", filepath.Join(filepath.Dir(site.SitePath), "logs"))
	fmt.Fprintf(out, "Press Ctrl-C to stop.\n")
}
