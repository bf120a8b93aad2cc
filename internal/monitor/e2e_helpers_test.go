package monitor_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"github.com/rampart-dev/rampart/internal/e2e"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/monitor"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// The end-to-end tests run real `rampart` processes on loopback addresses
// in 127.0.4x.0/24, when RAMPART_E2E=1 (scripts/test sets it).
var rampartBin string

func TestMain(m *testing.M) { e2e.Main(m, &rampartBin) }

func needE2E(t *testing.T) {
	t.Helper()
	e2e.Need(t, rampartBin)
}

// siteYAML is a site of one lb, two web+app servers and the monitor on
// 127.0.PREFIX.1-4, scraped every second. It has no db servers, so it
// needs no MariaDB.
func siteYAML(prefix int) string {
	return fmt.Sprintf(`site:
  https_port: 8443
  http_port: 8080
tls:
  policy: reencrypt
monitoring:
  scrape_interval: 1s
  retention: 10m
firewall:
  admin_cidrs: [127.0.0.1/32]
servers:
  - name: lb-1
    address: 127.0.%[1]d.1
    roles: [lb]
  - name: web-1
    address: 127.0.%[1]d.2
    roles: [web, app]
  - name: web-2
    address: 127.0.%[1]d.3
    roles: [web, app]
  - name: monitor-1
    address: 127.0.%[1]d.4
    roles: [monitor]
`, prefix)
}

// upSite is a running `rampart up`, with the site it runs.
type upSite struct {
	*e2e.Up
	topo *topology.Topology
	ca   *pki.CA
}

// startUp runs `rampart up -f` on the site of prefix and waits until it is
// up. Cleanup stops it and checks that none of its processes is left.
func startUp(t *testing.T, prefix int) *upSite {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "rampart.yaml")
	if err := os.WriteFile(file, []byte(siteYAML(prefix)), 0o644); err != nil {
		t.Fatal(err)
	}
	u := &upSite{}
	u.Up = e2e.StartUp(t, rampartBin, filepath.Join(dir, "state"), 90*time.Second, func(up *e2e.Up) {
		(&upSite{Up: up}).stop(t)
		if t.Failed() {
			t.Logf("rampart up printed:\n%s", up.Output())
			dumpLogs(t, up.State)
		}
	}, "-f", file)
	var err error
	if u.topo, err = topology.Load(filepath.Join(u.State, "site.yaml")); err != nil {
		t.Fatal(err)
	}
	if u.ca, err = pki.OpenCA(filepath.Join(u.State, "pki"), u.topo.Site.Domain); err != nil {
		t.Fatal(err)
	}
	return u
}

// stop sends SIGTERM to up and checks that every process of the site ended.
func (u *upSite) stop(t *testing.T) {
	u.Stop(t, 40*time.Second)
	e2e.NoProcessesLeft(t, u.State)
}

// dashboardURL is the line `up` printed for the dashboard.
func (u *upSite) dashboardURL(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(u.Output(), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "dashboard" {
			return f[1]
		}
	}
	t.Fatalf("up printed no dashboard line:\n%s", u.Output())
	return ""
}

// nodeSite runs each server as its own `rampart node` process, so a test
// can kill one and start it again; `up` would restart it by itself.
type nodeSite struct {
	t     *testing.T
	dir   string
	state string
	file  string
	topo  *topology.Topology
	ca    *pki.CA
	procs map[string]*exec.Cmd
	// seen are every process the site started, nodes and their children,
	// checked gone at cleanup.
	seen map[int]bool
}

// startNodes prepares the site of prefix as `up` does (resolved topology,
// every certificate issued before any server starts) and starts every
// server.
func startNodes(t *testing.T, prefix int) *nodeSite {
	t.Helper()
	dir := t.TempDir()
	s := &nodeSite{t: t, dir: dir, state: filepath.Join(dir, "state"), file: filepath.Join(dir, "site.yaml"),
		procs: map[string]*exec.Cmd{}, seen: map[int]bool{}}
	if err := os.WriteFile(s.file, []byte(siteYAML(prefix)), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.topo, err = topology.Load(s.file); err != nil {
		t.Fatal(err)
	}
	if s.ca, err = pki.OpenCA(filepath.Join(s.state, "pki"), s.topo.Site.Domain); err != nil {
		t.Fatal(err)
	}
	for _, sv := range s.topo.Servers {
		if _, err := s.ca.ServerIdentity(sv.Name, []net.IP{net.IP(sv.IP().AsSlice())}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ca.SiteFromCA(s.topo.Site.Domain); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ca.Admin(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stopAll)
	for _, sv := range s.topo.Servers {
		s.start(sv.Name)
	}
	for _, sv := range s.topo.Servers {
		s.waitHealthy(sv.Name, 60*time.Second)
	}
	return s
}

// start runs server name's node, logging to state/logs/NAME.log.
func (s *nodeSite) start(name string) {
	s.t.Helper()
	if err := os.MkdirAll(filepath.Join(s.state, "logs"), 0o755); err != nil {
		s.t.Fatal(err)
	}
	log, err := os.OpenFile(filepath.Join(s.state, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(rampartBin, "node", name, "-f", s.file, "--state", s.state, "--firewall", "userspace")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	log.Close()
	s.procs[name] = cmd
	s.seen[cmd.Process.Pid] = true
	go cmd.Wait()
}

// kill ends server name's node with SIGKILL, as a crash would, and waits
// until its process and its application are gone.
func (s *nodeSite) kill(name string) {
	s.t.Helper()
	cmd := s.procs[name]
	for _, c := range descendants(cmd.Process.Pid) {
		s.seen[c] = true
	}
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil {
		s.t.Fatal(err)
	}
	waitGone(s.t, cmd.Process.Pid, 10*time.Second)
}

// waitHealthy waits until server name's admin endpoint says healthy.
func (s *nodeSite) waitHealthy(name string, within time.Duration) {
	s.t.Helper()
	sv, _ := s.topo.Server(name)
	c := adminClient(s.t, s.ca)
	deadline := time.Now().Add(within)
	for {
		resp, err := c.Get("https://" + sv.HostPort(s.topo.Ports.Admin) + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				for _, c := range descendants(s.procs[name].Process.Pid) {
					s.seen[c] = true
				}
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s not healthy after %s: %v", name, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stopAll stops every node with SIGTERM, then SIGKILL, and checks that
// every process the site started is gone.
func (s *nodeSite) stopAll() {
	for _, cmd := range s.procs {
		for _, c := range descendants(cmd.Process.Pid) {
			s.seen[c] = true
		}
		cmd.Process.Signal(syscall.SIGTERM)
	}
	for pid := range s.seen {
		if !waitGone(nil, pid, 20*time.Second) {
			syscall.Kill(pid, syscall.SIGKILL)
			s.t.Errorf("process %d outlived SIGTERM by 20s", pid)
		}
	}
	if s.t.Failed() {
		dumpLogs(s.t, s.state)
	}
}

// waitGone waits until process pid has exited (or is a zombie), and
// reports whether it did.
func waitGone(t *testing.T, pid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	if t != nil {
		t.Fatalf("process %d still running after %s", pid, within)
	}
	return false
}

// descendants lists the processes below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 {
			ppid, _ := strconv.Atoi(f[1])
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func dumpLogs(t *testing.T, state string) {
	logs, _ := filepath.Glob(filepath.Join(state, "logs", "*.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		t.Logf("%s:\n%s", filepath.Base(l), strings.Join(lines, "\n"))
	}
}

// adminClient presents the admin certificate, as `rampart status` does.
func adminClient(t *testing.T, ca *pki.CA) *http.Client {
	t.Helper()
	admin, err := ca.Admin()
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.ClientTLSFor(admin)}}
}

// siteClient trusts only the site CA and sends every request for the
// site's domain to lbAddr, as curl --resolve does.
func siteClient(ca *pki.CA, lbAddr string) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: ca.Pool},
			MaxIdleConnsPerHost: 128,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return dialer.DialContext(ctx, network, net.JoinHostPort(lbAddr, port))
			},
		},
	}
}

// collectorState reads the collector's state with the admin certificate.
func collectorState(t *testing.T, c *http.Client, topo *topology.Topology) monitor.State {
	t.Helper()
	mon := topo.WithRole(topology.RoleMonitor)[0]
	resp, err := c.Get("https://" + mon.HostPort(topo.Ports.Dashboard) + "/api/state")
	if err != nil {
		t.Fatalf("the collector's state: %v", err)
	}
	defer resp.Body.Close()
	var st monitor.State
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("the collector's state: %s: %s", resp.Status, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func serverState(st monitor.State, name string) monitor.ServerState {
	for _, s := range st.Servers {
		if s.Name == name {
			return s
		}
	}
	return monitor.ServerState{}
}

// waitFor polls cond every 100ms until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// load sends GET / through the lb at rate requests per second until n
// were sent, each at its slot of the schedule, and returns when every
// answer came back. It records when each answer arrived, so a test can
// count what really passed in any span, whatever the machine's load did to
// the schedule. Any transport error or non-200 fails the test.
type loadRun struct {
	mu      sync.Mutex
	answers []time.Time
	lag     time.Duration // the most the sender fell behind its schedule
}

func load(t *testing.T, c *http.Client, url string, n int, rate float64) *loadRun {
	t.Helper()
	lr := &loadRun{}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else {
			lr.lag = max(lr.lag, -d)
		}
		wg.Go(func() {
			resp, err := c.Get(url)
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lr.mu.Lock()
			lr.answers = append(lr.answers, time.Now())
			lr.mu.Unlock()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("GET %s: %s", url, resp.Status)
			}
		})
	}
	wg.Wait()
	close(errs)
	// Errorf, not Fatalf: load may run beside the test's own goroutine.
	for err := range errs {
		t.Errorf("load: %v", err)
		break
	}
	return lr
}

// rateBetween is the rate at which answers arrived in (from, to].
func (lr *loadRun) rateBetween(from, to time.Time) float64 {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	n := 0
	for _, a := range lr.answers {
		if a.After(from) && !a.After(to) {
			n++
		}
	}
	return float64(n) / to.Sub(from).Seconds()
}
