package monitor_test

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/monitor"
	"github.com/rampart-dev/rampart/internal/topology"
)

// TestCollectorCountsEveryRequestAtItsRate sends a known number of
// requests at a known rate through the lb. While the load runs, the site's
// QPS the collector shows is within 2% of the rate; once the counters
// settle, its request total is exact.
func TestCollectorCountsEveryRequestAtItsRate(t *testing.T) {
	needE2E(t)
	u := startUp(t, 41)
	lb := u.topo.WithRole(topology.RoleLB)[0]
	site := siteClient(u.ca, lb.Address)
	url := fmt.Sprintf("https://%s:%d/", u.topo.Site.Domain, u.topo.Site.HTTPSPort)
	admin := adminClient(t, u.ca)

	const rate, total = 50.0, 1000 // 20s of load
	var lr *loadRun
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		lr = load(t, site, url, total, rate)
	}()
	// The figures cover the last 10s: read them once that window lies
	// wholly inside the load, twice, a few seconds apart. Each is checked
	// against the rate the client saw answered over the very span the
	// collector measured (its servers' own reading times), and against the
	// rate it meant to send.
	start := time.Now()
	var shown []monitor.Figures
	for _, at := range []time.Duration{13 * time.Second, 17 * time.Second} {
		time.Sleep(time.Until(start.Add(at)))
		shown = append(shown, collectorState(t, admin, u.topo).Site)
	}
	<-loaded
	if t.Failed() {
		return
	}
	for _, f := range shown {
		from, to := time.UnixMilli(f.From), time.UnixMilli(f.To)
		truth := lr.rateBetween(from, to)
		qps := float64(f.QPS)
		t.Logf("collector: %.2f requests/s over %s; answered in that span: %.2f/s; sent at %.0f/s (sender lag at most %s)",
			qps, to.Sub(from).Round(time.Millisecond), truth, rate, lr.lag.Round(time.Millisecond))
		if to.Sub(from) < 5*time.Second {
			t.Errorf("the figures span only %s of the load: scrapes were lost", to.Sub(from))
		}
		if math.Abs(qps-truth)/truth > 0.02 {
			t.Errorf("the collector showed %.2f requests/s where %.2f/s were answered: off by %.1f%%, over 2%%",
				qps, truth, 100*math.Abs(qps-truth)/truth)
		}
		if lr.lag < 100*time.Millisecond && math.Abs(qps-rate)/rate > 0.02 {
			t.Errorf("the collector showed %.2f requests/s while %.0f/s were sent on schedule: off by %.1f%%",
				qps, rate, 100*math.Abs(qps-rate)/rate)
		}
	}

	// Two scrapes after the last answer, the total is exact.
	var got float64
	waitFor(t, 10*time.Second, "the collector's total to settle", func() bool {
		st := collectorState(t, admin, u.topo)
		got = float64(st.Site.Requests)
		return got == total
	})
	st := collectorState(t, admin, u.topo)
	if lbTotal := float64(serverState(st, "lb-1").ByRole["lb"].Requests); lbTotal != total {
		t.Errorf("lb-1's own total %v, want %d", lbTotal, total)
	}
	// Every request went on to a web server, and each web server's share
	// shows on its flow from the lb.
	var flowQPS float64
	for _, f := range st.Flows {
		if strings.HasPrefix(f.ID, "lb-1>web-") && strings.HasSuffix(f.ID, ":web") && f.QPS.Known() {
			flowQPS += float64(f.QPS)
		}
	}
	t.Logf("total %v requests; lb -> web flows carry %.1f/s after the load", got, flowQPS)

	// rampart status prints the same site as a table.
	out, err := exec.Command(rampartBin, "status", "--state", u.State).CombinedOutput()
	if err != nil {
		t.Fatalf("rampart status: %v\n%s", err, out)
	}
	for _, s := range u.topo.Servers {
		if !strings.Contains(string(out), s.Name) {
			t.Errorf("rampart status does not list %s:\n%s", s.Name, out)
		}
	}
	if !strings.Contains(string(out), "HEALTH") || strings.Count(string(out), " up ") < len(u.topo.Servers) {
		t.Errorf("rampart status does not show every server up:\n%s", out)
	}
}

// TestKillingAWebServerFiresItsDownAlertAndRestartingResolvesIt kills a
// web server's node as a crash would: its ServerDown alert fires within
// the stated bound, its figures become gaps rather than zeros, and
// starting it again resolves the alert.
func TestKillingAWebServerFiresItsDownAlertAndRestartingResolvesIt(t *testing.T) {
	needE2E(t)
	s := startNodes(t, 42)
	admin := adminClient(t, s.ca)
	interval := s.topo.Monitoring.ScrapeInterval
	bound := monitor.DownAlertBound(interval)

	waitFor(t, 15*time.Second, "the collector to see every server up", func() bool {
		st := collectorState(t, admin, s.topo)
		for _, sv := range st.Servers {
			if sv.Health != monitor.Up {
				return false
			}
		}
		return len(st.Alerts) == 0
	})

	alert := func(st monitor.State, state string) bool {
		for _, a := range st.Alerts {
			if a.Rule == "ServerDown" && a.Labels["server"] == "web-1" && a.State == state {
				return true
			}
		}
		return false
	}
	s.kill("web-1")
	killed := time.Now()
	var st monitor.State
	took := waitFor(t, bound+5*time.Second, "ServerDown for web-1 to fire", func() bool {
		st = collectorState(t, admin, s.topo)
		return alert(st, monitor.Firing)
	})
	t.Logf("ServerDown fired %s after web-1 was killed (bound %s at a %s interval)", took.Round(10*time.Millisecond), bound, interval)
	if took > bound+200*time.Millisecond {
		t.Errorf("ServerDown fired %s after the kill, over the stated bound of %s", took, bound)
	}
	if took < monitor.DownFor(interval) {
		t.Errorf("ServerDown fired %s after the kill, before its for-duration of %s", took, monitor.DownFor(interval))
	}
	// A server that does not answer has no figures: gaps, never zeros.
	web1 := serverState(st, "web-1")
	if web1.Health != monitor.Down || web1.QPS.Known() || web1.CPU.Known() {
		t.Errorf("web-1 killed: health %s, qps %v, cpu %v; want down and unknown figures", web1.Health, float64(web1.QPS), float64(web1.CPU))
	}
	if web2 := serverState(st, "web-2"); web2.Health != monitor.Up {
		t.Errorf("web-2 is %s; only web-1 was killed", web2.Health)
	}
	for _, a := range st.Alerts {
		if a.Rule == "ServerDown" && a.Labels["server"] != "web-1" {
			t.Errorf("ServerDown for %s, which was not killed", a.Labels["server"])
		}
	}

	s.start("web-1")
	s.waitHealthy("web-1", 30*time.Second)
	back := time.Since(killed)
	took = waitFor(t, 2*interval+5*time.Second, "ServerDown for web-1 to resolve", func() bool {
		st = collectorState(t, admin, s.topo)
		return !alert(st, monitor.Firing) && !alert(st, monitor.Pending)
	})
	t.Logf("resolved %s after web-1 answered again", took.Round(10*time.Millisecond))
	found := false
	for _, a := range st.Resolved {
		if a.Rule == "ServerDown" && a.Labels["server"] == "web-1" && a.Ended != nil {
			found = true
			if d := a.Ended.Sub(killed); d > back+2*interval+time.Second {
				t.Errorf("resolved %s after the kill, %s after web-1 was back", d, d-back)
			}
		}
	}
	if !found {
		t.Errorf("no resolved ServerDown for web-1 in %+v", st.Resolved)
	}
	if serverState(st, "web-1").Health != monitor.Up {
		t.Errorf("web-1 back, yet %s", serverState(st, "web-1").Health)
	}
}

// TestExportWritesFilesPromtoolAccepts runs `rampart export prometheus`
// on a running site's state and checks the files with promtool.
func TestExportWritesFilesPromtoolAccepts(t *testing.T) {
	needE2E(t)
	tool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing: scripts/install-deps installs the prometheus package")
	}
	state := t.TempDir()
	file := filepath.Join(t.TempDir(), "rampart.yaml")
	if err := os.WriteFile(file, []byte(siteYAML(44)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if b, err := exec.Command(rampartBin, "export", "prometheus", "-f", file, "--state", state, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("rampart export prometheus: %v\n%s", err, b)
	}
	for _, args := range [][]string{
		{"check", "config", filepath.Join(out, monitor.PrometheusConfigFile)},
		{"check", "rules", filepath.Join(out, monitor.PrometheusRulesFile)},
	} {
		if b, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
}
