package cluster_test

import (
	"fmt"
	"github.com/rampart-dev/rampart/internal/e2e"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/cluster"
	"github.com/rampart-dev/rampart/internal/firewall"
)

// The netns tests build real network namespaces, a bridge and nftables
// firewalls: they need root and RAMPART_E2E=1.
func needNetns(t *testing.T) {
	t.Helper()
	needE2E(t)
	if os.Geteuid() != 0 {
		t.Skip("netns test: needs root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("netns test: needs nftables (scripts/install-deps)")
	}
}

// inNetns runs a command inside a server's namespace.
func inNetns(ns *cluster.Netns, server string, args ...string) *exec.Cmd {
	line := ns.Exec(server, args...)
	return exec.Command(line[0], line[1:]...)
}

// droppedCount reads the "dropped" counter of a server's firewall.
func droppedCount(t *testing.T, ns *cluster.Netns, server string) uint64 {
	t.Helper()
	out, err := inNetns(ns, server, "nft", "-j", "list", "table", "inet", firewall.Table).Output()
	if err != nil {
		t.Fatalf("nft in %s: %v", server, err)
	}
	i := strings.Index(string(out), `"comment": "dropped"`)
	if i < 0 {
		t.Fatalf("no dropped rule in %s's table", server)
	}
	var packets uint64
	rest := string(out)[i:]
	if j := strings.Index(rest, `"packets": `); j >= 0 {
		fmt.Sscanf(rest[j+len(`"packets": `):], "%d", &packets)
	}
	return packets
}

// connectFrom tries a TCP connection from inside server's namespace and
// reports the outcome as `rampart probe` sees it.
func connectFrom(t *testing.T, ns *cluster.Netns, server, addr string) string {
	t.Helper()
	cmd := inNetns(ns, server, rampartBin, "probe")
	cmd.Stdin = strings.NewReader(fmt.Sprintf(`[{"addr":%q}]`, addr))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe from %s: %v", server, err)
	}
	var outcome string
	if i := strings.Index(string(out), `"outcome":"`); i >= 0 {
		outcome = strings.SplitN(string(out)[i+len(`"outcome":"`):], `"`, 2)[0]
	}
	return outcome
}

func runVerify(t *testing.T, state string) (string, error) {
	out, err := exec.Command(rampartBin, "verify", "--state", state).CombinedOutput()
	return string(out), err
}

func TestNetnsPresetsVerify(t *testing.T) {
	needNetns(t)
	for _, preset := range []string{"seed", "ha"} {
		t.Run(preset, func(t *testing.T) {
			r := startUp(t, "--preset", preset, "--isolation", "netns")
			out, err := runVerify(t, r.State)
			if err != nil || !strings.Contains(out, "verify: PASS") {
				t.Fatalf("verify failed (%v):\n%s", err, out)
			}
		})
	}
}

func TestNetnsFirewallDropsAndVerifyCatchesAHole(t *testing.T) {
	needNetns(t)
	r := startUp(t, "--preset", "seed", "--isolation", "netns")
	topo, _ := r.site(t)
	ns, err := cluster.LoadNetns(r.State)
	if err != nil {
		t.Fatal(err)
	}
	server1, _ := topo.Server("server-1")
	lb1, _ := topo.Server("lb-1")

	// The lb may not reach a database port: nftables drops it, and counts.
	before := droppedCount(t, ns, "server-1")
	if got := connectFrom(t, ns, "lb-1", server1.HostPort(topo.Ports.MySQL)); got != "dropped" {
		t.Errorf("lb-1 -> server-1 mysql: %s, want dropped", got)
	}
	if after := droppedCount(t, ns, "server-1"); after <= before {
		t.Errorf("server-1's drop counter did not move: %d -> %d", before, after)
	}
	// A web server may not reach another server's admin endpoint.
	before = droppedCount(t, ns, "lb-1")
	if got := connectFrom(t, ns, "server-1", lb1.HostPort(topo.Ports.Admin)); got != "dropped" {
		t.Errorf("server-1 -> lb-1 admin: %s, want dropped", got)
	}
	if after := droppedCount(t, ns, "lb-1"); after <= before {
		t.Errorf("lb-1's drop counter did not move: %d -> %d", before, after)
	}

	// Open an undeclared port by hand: a listener and a rule that accepts it.
	listener := inNetns(ns, "server-1", "socat", "TCP-LISTEN:5555,reuseaddr,fork", "SYSTEM:sleep 5")
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { listener.Process.Kill(); listener.Wait() }()
	if out, err := inNetns(ns, "server-1", "nft", "insert", "rule", "inet", firewall.Table, "input", "tcp", "dport", "5555", "accept").CombinedOutput(); err != nil {
		t.Fatalf("nft insert: %v: %s", err, out)
	}
	time.Sleep(200 * time.Millisecond)
	out, err := runVerify(t, r.State)
	if err == nil || !strings.Contains(out, "server-1 port 5555: open, but no flow declares it") {
		t.Fatalf("verify did not catch the hole (err %v):\n%s", err, out)
	}
}

const bansTopology = `
tls: {policy: reencrypt}
lb:
  limits: {requests_per_second: 5, burst: 5, ban_for: 5s}
servers:
  - {name: lb-1, address: 127.0.1.1, roles: [lb]}
  - {name: web-1, address: 127.0.1.2, roles: [web, app]}
`

func TestNetnsBansAClientAndLiftsTheBan(t *testing.T) {
	needNetns(t)
	r := startUp(t, "-f", writeTopology(t, bansTopology), "--isolation", "netns")
	topo, ca := r.site(t)
	ns, _ := cluster.LoadNetns(r.State)
	lb := topo.WithRole("lb")[0]
	client := siteClient(t, ca.CertPath, lb.Address)
	client.Timeout = 2 * time.Second
	client.Transport.(*http.Transport).DisableKeepAlives = true
	url := fmt.Sprintf("https://www.foobar.com:%d/api/whoami", topo.Site.HTTPSPort)
	get := func() string {
		resp, err := client.Get(url)
		if err != nil {
			return "error"
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return fmt.Sprint(resp.StatusCode)
	}
	seen := map[string]int{}
	for i := 0; i < 30 && seen["error"] == 0; i++ {
		seen[get()]++
	}
	if seen["429"] == 0 || seen["error"] == 0 {
		t.Fatalf("responses %v: want 429 and then refused connections", seen)
	}
	// The kernel's ban is made off the request path, so it may land a
	// moment after the userspace ban refused the first connection; ban_for
	// (5s) leaves room to wait for it.
	var out []byte
	var err error
	for wait := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, err = inNetns(ns, "lb-1", "nft", "list", "set", "inet", firewall.Table, "banned_v4").Output()
		if err == nil && strings.Contains(string(out), ns.HostAddr) {
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("the host is not in the kernel's ban set within 3s (%v):\n%s", err, out)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for get() != "200" {
		if time.Now().After(deadline) {
			t.Fatal("the ban was not lifted within 10s")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if logs, _ := os.ReadFile(filepath.Join(r.State, "logs", "lb-1.log")); !strings.Contains(string(logs), "client banned") {
		t.Error("the ban is not in the lb's log")
	}
}

// netnsLeft lists the namespaces, links and rampart tables of a site.
func netnsLeft(ns *cluster.Netns) []string {
	var left []string
	for _, name := range ns.Namespaces {
		if _, err := os.Stat(filepath.Join("/run/netns", name)); err == nil {
			left = append(left, "namespace "+name)
		}
	}
	for _, l := range append([]string{ns.Bridge}, ns.Veths...) {
		if _, err := os.Stat(filepath.Join("/sys/class/net", l)); err == nil {
			left = append(left, "link "+l)
		}
	}
	return left
}

func TestNetnsLeavesNothingBehind(t *testing.T) {
	needNetns(t)
	t.Run("normal stop", func(t *testing.T) {
		r := startUp(t, "--preset", "seed", "--isolation", "netns")
		ns, err := cluster.LoadNetns(r.State)
		if err != nil {
			t.Fatal(err)
		}
		r.stop(t)
		if left := netnsLeft(ns); len(left) > 0 {
			t.Fatalf("left after stop: %v", left)
		}
	})
	t.Run("SIGKILL then down", func(t *testing.T) {
		r := startUp(t, "--preset", "seed", "--isolation", "netns")
		ns, err := cluster.LoadNetns(r.State)
		if err != nil {
			t.Fatal(err)
		}
		r.Cmd.Process.Signal(syscall.SIGKILL)
		<-r.Done()
		if len(netnsLeft(ns)) == 0 {
			t.Fatal("nothing was left to clean up: the test proves nothing")
		}
		out, err := exec.Command(rampartBin, "down", "--state", r.State).CombinedOutput()
		if err != nil {
			t.Fatalf("down: %v\n%s", err, out)
		}
		if left := netnsLeft(ns); len(left) > 0 {
			t.Fatalf("left after down: %v\n%s", left, out)
		}
		time.Sleep(500 * time.Millisecond)
		if left := e2e.ProcessesMentioning(r.State); len(left) > 0 {
			t.Errorf("processes left after down: %v", left)
		}
	})
}

var _ = net.Dial
