package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rampart-dev/rampart/internal/topology"
)

// Host names the machine `verify` runs on, as a source: it stands for the
// clients, and for the admins when its address is in admin_cidrs.
const Host = "host"

// Site is a running site to verify.
type Site struct {
	Topology *topology.Topology
	// Namespaces maps each server to its network namespace when the site
	// runs with --isolation netns; nil means loopback mode.
	Namespaces map[string]string
	// HostAddr is the host's address as the servers see it.
	HostAddr string
	// Executable is the rampart binary, run inside namespaces to probe.
	Executable string
	// Health checks one server's admin endpoint.
	Health func(ctx context.Context, server string) error
	// Timeout bounds each connection attempt. Default 1s.
	Timeout time.Duration
}

// Check is one (source, destination, port) triple and its verdict.
type Check struct {
	From, To string
	Port     int
	Service  topology.Service // "" for a port no service declares
	Declared bool
	Result   Result
	// Problem is empty when the check passed.
	Problem string
	// Note explains a passed check that a reader may wonder about.
	Note string
	// hostWide is true in loopback mode when what listens on the port is
	// bound to every address: a service of the host, not of the site.
	hostWide bool
}

// Report is the outcome of a verify run.
type Report struct {
	Mode   string
	Checks []Check
	Health map[string]string // server -> "" when healthy, else why not
}

// Problems returns the failed checks and unhealthy servers as lines.
func (r *Report) Problems() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Problem != "" {
			out = append(out, fmt.Sprintf("%s -> %s port %d: %s", c.From, c.To, c.Port, c.Problem))
		}
	}
	var names []string
	for s := range r.Health {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		if why := r.Health[s]; why != "" {
			out = append(out, fmt.Sprintf("%s: unhealthy: %s", s, why))
		}
	}
	return out
}

// served are the services rampart's own processes answer over HTTP, where a
// plaintext request tells whether the hop's TLS policy holds.
var served = []topology.Service{topology.ServiceWeb, topology.ServiceApp, topology.ServiceAdmin, topology.ServiceHTTPS}

// Run verifies the site.
func Run(ctx context.Context, s Site) (*Report, error) {
	t := s.Topology
	if s.Timeout == 0 {
		s.Timeout = time.Second
	}
	rep := &Report{Mode: "loopback (userspace firewall)", Health: map[string]string{}}
	if s.Namespaces != nil {
		rep.Mode = "netns (nftables)"
	}
	servicePort := map[int]topology.Service{}
	for _, svc := range []topology.Service{topology.ServiceHTTPS, topology.ServiceHTTP, topology.ServiceWeb, topology.ServiceApp,
		topology.ServiceMySQL, topology.ServiceGalera, topology.ServiceIST, topology.ServiceSST, topology.ServiceAdmin, topology.ServiceSSH} {
		servicePort[t.Port(svc)] = svc
	}
	flows := append(t.Flows(), t.ExtraFlows()...)
	// A source is an admin when its address is in admin_cidrs; every
	// source is a client, since clients are anyone on the network.
	isAdmin := map[string]bool{}
	addrOf := map[string]string{Host: s.HostAddr}
	for _, srv := range t.Servers {
		addrOf[srv.Name] = srv.Address
	}
	for name, addr := range addrOf {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			continue
		}
		for _, c := range t.Firewall.AdminCIDRs {
			if p, err := netip.ParsePrefix(c); err == nil && p.Contains(a) {
				isAdmin[name] = true
			}
		}
	}
	declared := func(from string, to string, port int) (topology.Flow, bool) {
		for _, f := range flows {
			if f.To != to || f.Port != port {
				continue
			}
			if f.From == from || f.From == topology.FromClients || (f.From == topology.FromAdmins && isAdmin[from]) {
				return f, true
			}
		}
		return topology.Flow{}, false
	}

	// Every destination is probed on every service port and on whatever
	// else it is found listening on, so a port opened by hand is seen.
	ports := map[string][]int{}
	hostWide := map[string]map[int]bool{}
	for _, dst := range t.Servers {
		set := map[int]bool{}
		for p := range servicePort {
			set[p] = true
		}
		own, wide := map[int]bool{}, map[int]bool{}
		for _, ap := range s.listeners(dst) {
			set[int(ap.Port())] = true
			if ap.Addr().IsUnspecified() {
				wide[int(ap.Port())] = true
			} else {
				own[int(ap.Port())] = true
			}
		}
		hostWide[dst.Name] = map[int]bool{}
		for p := range wide {
			if !own[p] && s.Namespaces == nil {
				hostWide[dst.Name][p] = true
			}
		}
		for p := range set {
			ports[dst.Name] = append(ports[dst.Name], p)
		}
		sort.Ints(ports[dst.Name])
	}

	sources := append([]string{Host}, names(t.Servers)...)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for _, src := range sources {
		var targets []Target
		var checks []Check
		for _, dst := range t.Servers {
			if dst.Name == src {
				continue
			}
			for _, p := range ports[dst.Name] {
				f, ok := declared(src, dst.Name, p)
				c := Check{From: src, To: dst.Name, Port: p, Service: servicePort[p], Declared: ok, hostWide: hostWide[dst.Name][p]}
				tg := Target{Addr: dst.HostPort(p)}
				tg.Plaintext = ok && slices.Contains(served, f.Service)
				checks = append(checks, c)
				targets = append(targets, tg)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results, err := s.probe(ctx, src, targets)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			for i := range checks {
				checks[i].Result = results[i]
				f, _ := declared(checks[i].From, checks[i].To, checks[i].Port)
				s.judge(&checks[i], f)
			}
			rep.Checks = append(rep.Checks, checks...)
		}()
	}
	for _, srv := range t.Servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			why := ""
			if s.Health != nil {
				if err := s.Health(ctx, srv.Name); err != nil {
					why = err.Error()
				}
			}
			mu.Lock()
			rep.Health[srv.Name] = why
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	order := map[string]int{Host: -1}
	for i, srv := range t.Servers {
		order[srv.Name] = i
	}
	sort.Slice(rep.Checks, func(i, j int) bool {
		a, b := rep.Checks[i], rep.Checks[j]
		if a.From != b.From {
			return order[a.From] < order[b.From]
		}
		if a.To != b.To {
			return order[a.To] < order[b.To]
		}
		return a.Port < b.Port
	})
	return rep, nil
}

// judge compares a probe with what the flows declare.
func (s Site) judge(c *Check, f topology.Flow) {
	r := c.Result
	nft := s.Namespaces != nil
	switch {
	case c.Declared && !r.Outcome.Passed():
		c.Problem = fmt.Sprintf("declared %s flow is blocked (%s)", f.Service, r.Outcome)
	case c.Declared && r.Outcome == Refused:
		if slices.Contains(served, f.Service) || f.Service == topology.ServiceHTTP {
			c.Problem = fmt.Sprintf("declared %s flow, but nothing listens", f.Service)
		} else {
			c.Note = "allowed; nothing listens here"
		}
	case !c.Declared && r.Outcome == Open && c.hostWide:
		c.Note = "a service of this host listens on every address; loopback mode cannot tell it from the site's (use --isolation netns)"
	case !c.Declared && r.Outcome == Open:
		c.Problem = "open, but no flow declares it (a hole)"
		if !nft && s.managedPort(c.Port) {
			c.Problem = ""
			c.Note = "a port of a process rampart manages (the application, mariadbd): loopback mode cannot firewall it (use --isolation netns)"
		}
	case !c.Declared && nft && r.Outcome == Refused:
		c.Problem = "the firewall lets it through (nothing listens, but nothing drops it either)"
	}
	if c.Problem == "" && c.Result.Target.Plaintext {
		if f.Protection == topology.MutualTLS && r.PlaintextServed {
			c.Problem = "plaintext HTTP served where mutual TLS is declared"
		}
		if f.Protection == topology.Plaintext && r.Outcome == Open && !r.PlaintextServed {
			c.Problem = "declared plaintext, but plaintext HTTP is not served"
		}
	}
}

// listeners finds the sockets dst listens on.
func (s Site) listeners(dst topology.Server) []netip.AddrPort {
	procNet := "/proc/net"
	if s.Namespaces != nil {
		out, err := exec.Command("ip", "netns", "pids", s.Namespaces[dst.Name]).Output()
		pids := strings.Fields(string(out))
		if err != nil || len(pids) == 0 {
			return nil
		}
		procNet = "/proc/" + pids[0] + "/net"
	}
	var out []netip.AddrPort
	for _, ap := range listening(procNet) {
		if ap.Addr() == dst.IP() || ap.Addr().IsUnspecified() {
			out = append(out, ap)
		}
	}
	return out
}

// probe runs targets from src: in its namespace through `rampart probe`,
// or in this process bound to its loopback address.
func (s Site) probe(ctx context.Context, src string, targets []Target) ([]Result, error) {
	if s.Namespaces != nil && src != Host {
		in, _ := json.Marshal(targets)
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", s.Namespaces[src], s.Executable, "probe")
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
			return nil, fmt.Errorf("probe from %s: %v: %s", src, err, msg)
		}
		var results []Result
		if err := json.Unmarshal(out, &results); err != nil {
			return nil, fmt.Errorf("probe from %s: %w", src, err)
		}
		return results, nil
	}
	var source net.IP
	if src != Host {
		srv, _ := s.Topology.Server(src)
		source = net.IP(srv.IP().AsSlice())
	}
	return ProbeAll(source, targets, s.Timeout), nil
}

// ProbeAll probes targets concurrently from source.
func ProbeAll(source net.IP, targets []Target, timeout time.Duration) []Result {
	results := make([]Result, len(targets))
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = Probe(source, t, timeout)
		}()
	}
	wg.Wait()
	return results
}

func names(ss []topology.Server) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

// managedPort reports whether port belongs to a process a node supervises
// rather than to the node itself, which the userspace firewall cannot
// guard: the application and the database.
func (s Site) managedPort(port int) bool {
	p := s.Topology.Ports
	return slices.Contains([]int{p.AppProcess, p.MySQL, p.Galera, p.IST, p.SST}, port)
}
