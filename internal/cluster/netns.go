package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rampart-dev/rampart/internal/topology"
)

// Netns is the network that `up --isolation netns` builds: a bridge on the
// host with the first address of a /24 in 10.213.0.0/16, and one network
// namespace per server, joined to the bridge by a veth pair. The namespaces
// have no default route, so nothing inside can reach past the bridge.
type Netns struct {
	Subnet     string            `json:"subnet"` // 10.213.N.0/24
	HostAddr   string            `json:"host_addr"`
	Bridge     string            `json:"bridge"`
	Namespaces map[string]string `json:"namespaces"` // server -> namespace
	Veths      []string          `json:"veths"`      // host ends
}

// netnsFile records a running Netns in the state directory, for `down`.
const netnsFile = "netns.json"

// PlanNetns chooses a free /24 for the site in stateDir and moves every
// server to an address in it. It changes nothing on the host.
func PlanNetns(t *topology.Topology, stateDir string) (*Netns, []string, error) {
	h := fnv.New32a()
	h.Write([]byte(stateDir))
	start := int(h.Sum32()%250) + 1
	n := -1
	for i := 0; i < 250; i++ {
		c := (start+i-1)%250 + 1
		if !linkExists(bridgeName(c)) && !namespacesExist(c) {
			n = c
			break
		}
	}
	if n < 0 {
		return nil, nil, errors.New("netns: no free subnet in 10.213.0.0/16")
	}
	ns := &Netns{
		Subnet:     fmt.Sprintf("10.213.%d.0/24", n),
		HostAddr:   fmt.Sprintf("10.213.%d.1", n),
		Bridge:     bridgeName(n),
		Namespaces: map[string]string{},
	}
	var notes []string
	for i := range t.Servers {
		s := &t.Servers[i]
		addr := fmt.Sprintf("10.213.%d.%d", n, i+2)
		notes = append(notes, fmt.Sprintf("%s: address %s (namespace rp%d-%s)", s.Name, addr, n, s.Name))
		s.Address = addr
		ns.Namespaces[s.Name] = fmt.Sprintf("rp%d-%s", n, s.Name)
		ns.Veths = append(ns.Veths, fmt.Sprintf("rp%dv%d", n, i))
	}
	// The host is where `up`, `verify` and the operator stand.
	t.Firewall.AdminCIDRs = append(t.Firewall.AdminCIDRs, ns.HostAddr+"/32")
	notes = append(notes, fmt.Sprintf("firewall: admin_cidrs += %s/32 (this host, on bridge %s)", ns.HostAddr, ns.Bridge))
	return ns, notes, nil
}

func bridgeName(n int) string { return fmt.Sprintf("rpbr%d", n) }

// namespacesExist reports whether any namespace of subnet n is left.
func namespacesExist(n int) bool {
	m, _ := filepath.Glob(fmt.Sprintf("/run/netns/rp%d-*", n))
	return len(m) > 0
}

// Names rampart gives what it creates; Remove touches nothing else.
var (
	bridgeRE    = regexp.MustCompile(`^rpbr[0-9]{1,3}$`)
	namespaceRE = regexp.MustCompile(`^rp[0-9]{1,3}-[a-z0-9-]+$`)
	vethRE      = regexp.MustCompile(`^rp[0-9]{1,3}v[0-9]+$`)
)

// ours checks that every name in ns is one rampart would have made, so a
// tampered netns.json cannot make `down` remove someone else's network.
func (ns *Netns) ours() error {
	if !bridgeRE.MatchString(ns.Bridge) {
		return fmt.Errorf("netns: %q is not a bridge rampart makes; refusing to remove it", ns.Bridge)
	}
	for _, name := range ns.Namespaces {
		if !namespaceRE.MatchString(name) {
			return fmt.Errorf("netns: %q is not a namespace rampart makes; refusing to remove it", name)
		}
	}
	for _, v := range ns.Veths {
		if !vethRE.MatchString(v) {
			return fmt.Errorf("netns: %q is not a veth rampart makes; refusing to remove it", v)
		}
	}
	return nil
}

func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// ip runs one iproute2 command, returning a one-line error.
func ip(args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("ip %s: %s", strings.Join(args, " "), msg)
	}
	return nil
}

// Create builds the bridge and the namespaces, recording them in stateDir
// first so that `down` can remove whatever a crash leaves. On error it
// removes what it made.
func (ns *Netns) Create(t *topology.Topology, stateDir string) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("--isolation netns needs root (it creates network namespaces and nftables rules)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("--isolation netns needs iproute2's ip command")
	}
	data, _ := json.MarshalIndent(ns, "", "  ")
	if err := os.WriteFile(filepath.Join(stateDir, netnsFile), data, 0o644); err != nil {
		return err
	}
	// Each step that succeeds pushes its undo, so a failure removes only
	// what this call made, never a namespace or bridge of another site.
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			os.Remove(filepath.Join(stateDir, netnsFile))
		}
	}()
	step := func(reverse []string, args ...string) error {
		if err := ip(args...); err != nil {
			return fmt.Errorf("netns: %w", err)
		}
		if reverse != nil {
			undo = append(undo, func() { ip(reverse...) })
		}
		return nil
	}
	prefix := strings.TrimSuffix(ns.Subnet, ".0/24")
	if err := step([]string{"link", "del", ns.Bridge}, "link", "add", ns.Bridge, "type", "bridge"); err != nil {
		return err
	}
	if err := step(nil, "addr", "add", ns.HostAddr+"/24", "dev", ns.Bridge); err != nil {
		return err
	}
	if err := step(nil, "link", "set", ns.Bridge, "up"); err != nil {
		return err
	}
	for i, s := range t.Servers {
		name, host := ns.Namespaces[s.Name], ns.Veths[i]
		peer := host + "p"
		if err := step([]string{"netns", "del", name}, "netns", "add", name); err != nil {
			return err
		}
		if err := step([]string{"link", "del", host}, "link", "add", host, "type", "veth", "peer", "name", peer); err != nil {
			return err
		}
		for _, args := range [][]string{
			{"link", "set", host, "master", ns.Bridge},
			{"link", "set", host, "up"},
			{"link", "set", peer, "netns", name},
			{"-n", name, "link", "set", peer, "name", "eth0"},
			{"-n", name, "addr", "add", fmt.Sprintf("%s.%d/24", prefix, i+2), "dev", "eth0"},
			{"-n", name, "link", "set", "eth0", "up"},
			{"-n", name, "link", "set", "lo", "up"},
		} {
			if err := step(nil, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// Exec returns the command line that runs args inside server's namespace.
func (ns *Netns) Exec(server string, args ...string) []string {
	return append([]string{"ip", "netns", "exec", ns.Namespaces[server]}, args...)
}

// Remove deletes the namespaces and the bridge (which takes the veths with
// it) and the record. It ends any process still inside a namespace: they
// are all rampart's. It returns what it removed.
func (ns *Netns) Remove(stateDir string) (removed []string, err error) {
	if err := ns.ours(); err != nil {
		return nil, err
	}
	var errs []error
	for _, name := range ns.Namespaces {
		if _, statErr := os.Stat(filepath.Join("/run/netns", name)); statErr != nil {
			continue
		}
		killNamespace(name)
		if e := ip("netns", "del", name); e != nil {
			errs = append(errs, e)
		} else {
			removed = append(removed, "namespace "+name)
		}
	}
	for _, v := range ns.Veths {
		if linkExists(v) {
			if e := ip("link", "del", v); e == nil {
				removed = append(removed, "veth "+v)
			}
		}
	}
	if linkExists(ns.Bridge) {
		if e := ip("link", "del", ns.Bridge); e != nil {
			errs = append(errs, e)
		} else {
			removed = append(removed, "bridge "+ns.Bridge)
		}
	}
	if len(errs) == 0 {
		os.Remove(filepath.Join(stateDir, netnsFile))
	}
	return removed, errors.Join(errs...)
}

// killNamespace SIGKILLs the processes inside a namespace of ours.
func killNamespace(name string) {
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	}
}

// LoadNetns reads the record of a netns site from stateDir, if there is one.
func LoadNetns(stateDir string) (*Netns, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, netnsFile))
	if err != nil {
		return nil, err
	}
	var ns Netns
	if err := json.Unmarshal(data, &ns); err != nil {
		return nil, fmt.Errorf("%s: %w", netnsFile, err)
	}
	return &ns, nil
}
