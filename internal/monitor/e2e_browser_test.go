package monitor_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// chromium is Debian's browser; scripts/install-deps installs it.
const chromium = "/usr/bin/chromium"

// artifacts is where a browser test leaves its screenshot:
// $RAMPART_ARTIFACTS when set, else the test's temporary directory.
func artifacts(t *testing.T) string {
	if d := os.Getenv("RAMPART_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// spkiPin is the base64 SHA-256 of the CA's public key, the form
// --ignore-certificate-errors-spki-list takes: Chromium then trusts a chain
// that holds this key, the site CA the dashboard sends after its own
// certificate, and nothing else.
func spkiPin(ca *pki.CA) string {
	sum := sha256.Sum256(ca.Cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// browser starts a headless Chromium that trusts the site CA only, in a
// fresh profile, and stops it (by PID) when the test ends.
func browser(t *testing.T, ca *pki.CA) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: scripts/install-deps installs the chromium package", chromium)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 1300),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", spkiPin(ca)),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v", chromium, err)
	}
	var pid int
	if p := chromedp.FromContext(ctx).Browser.Process(); p != nil {
		pid = p.Pid
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if pid != 0 && !waitGone(nil, pid, 10*time.Second) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("chromium (pid %d) did not stop", pid)
		}
	})
	return ctx
}

// run runs one action with a timeout.
func run[T any](t *testing.T, ctx context.Context, d time.Duration, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTheDashboardShowsTheSiteLiveInABrowser opens the dashboard at the URL
// `up` printed, in headless Chromium that trusts the site CA, finds every
// server of the topology in the diagram, sees the QPS figures change while
// load runs, and saves a screenshot.
func TestTheDashboardShowsTheSiteLiveInABrowser(t *testing.T) {
	needE2E(t)
	u := startUp(t, 43)
	url := u.dashboardURL(t)
	if !strings.Contains(url, "#token=") {
		t.Fatalf("the dashboard URL carries no token: %s", url)
	}
	// The CA `up` printed is the one the dashboard's chain ends in.
	pem, _ := os.ReadFile(u.ca.CertPath)
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(pem) {
		t.Fatal("the CA file holds no certificate")
	}
	ctx := browser(t, u.ca)

	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	// The token in the fragment logs in and leaves the address bar.
	run(t, ctx, 20*time.Second, chromedp.WaitVisible(chromedp.CSS(`#diagram g.srv`)))
	if loc := run(t, ctx, 5*time.Second, chromedp.Evaluate[string](`location.href`)); strings.Contains(loc, "token") {
		t.Errorf("the token stayed in the address bar: %s", loc)
	}
	if hidden := run(t, ctx, 5*time.Second, chromedp.Evaluate[bool](`document.getElementById('login').hidden`)); !hidden {
		t.Error("the login form shows though the URL carried the token")
	}

	// Every server of the topology is in the diagram, and each of them
	// turns up (green) once scraped.
	want := serverNames(u.topo)
	got := run(t, ctx, 5*time.Second, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#diagram g.srv')].map(g => g.dataset.server).sort()`))
	if !slices.Equal(got, want) {
		t.Fatalf("servers in the diagram %v, want %v", got, want)
	}
	waitFor(t, 20*time.Second, "every server shown up", func() bool {
		n := run(t, ctx, 5*time.Second, chromedp.Evaluate[int](`document.querySelectorAll('#diagram g.srv.up').length`))
		return n == len(want)
	})
	// Every flow from clients to the lb and from the lb to each web server
	// is drawn.
	edges := run(t, ctx, 5*time.Second, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#diagram g.flow')].map(g => g.dataset.edge)`))
	for _, e := range []string{"clients>lb-1:https", "lb-1>web-1:web", "lb-1>web-2:web", "web-1>web-2:app", "monitor-1>lb-1:admin"} {
		if !slices.Contains(edges, e) {
			t.Errorf("the diagram has no flow %s (has %v)", e, edges)
		}
	}

	siteQPS := func() string {
		return run(t, ctx, 5*time.Second, chromedp.Evaluate[string](`document.getElementById('site-qps').textContent`))
	}
	lbQPS := func() string {
		return run(t, ctx, 5*time.Second, chromedp.Evaluate[string](
			`document.querySelector('#diagram text.qps[data-server="lb-1"][data-role="lb"]').textContent`))
	}
	before, lbBefore := siteQPS(), lbQPS()
	t.Logf("before the load: site %q, lb-1 %q", before, lbBefore)

	lb := u.topo.WithRole(topology.RoleLB)[0]
	site := siteClient(u.ca, lb.Address)
	target := fmt.Sprintf("https://%s:%d/", u.topo.Site.Domain, u.topo.Site.HTTPSPort)
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		load(t, site, target, 600, 30) // 20s at 30/s
	}()
	var during string
	waitFor(t, 20*time.Second, "the site's QPS to change in the browser", func() bool {
		during = siteQPS()
		return during != before && strings.HasSuffix(during, "/s") && !strings.HasPrefix(during, "0.00")
	})
	var lbDuring string
	waitFor(t, 10*time.Second, "lb-1's QPS to change in the diagram", func() bool {
		lbDuring = lbQPS()
		return lbDuring != lbBefore && !strings.HasPrefix(lbDuring, "0.00")
	})
	t.Logf("during the load: site %q, lb-1 %q", during, lbDuring)
	// Give the charts a few rounds of the load to draw, then look.
	serving := 0 // servers that answer HTTP: the QPS chart draws a line for each
	for _, s := range u.topo.Servers {
		if s.Has(topology.RoleLB) || s.Has(topology.RoleWeb) || s.Has(topology.RoleApp) {
			serving++
		}
	}
	waitFor(t, 20*time.Second, "the charts to draw every server", func() bool {
		qps := run(t, ctx, 5*time.Second, chromedp.Evaluate[int](`document.querySelectorAll('.chart[data-chart="qps"] path.line').length`))
		cpu := run(t, ctx, 5*time.Second, chromedp.Evaluate[int](`document.querySelectorAll('.chart[data-chart="cpu"] path.line').length`))
		return qps == serving && cpu == len(want)
	})
	time.Sleep(6 * time.Second)
	moving := run(t, ctx, 5*time.Second, chromedp.Evaluate[int](`document.querySelectorAll('#diagram .pulse.on').length`))
	if moving == 0 {
		t.Error("no flow in the diagram is moving while load runs")
	}
	shot := run(t, ctx, 20*time.Second, chromedp.FullScreenshot(100))
	path := filepath.Join(artifacts(t), "dashboard.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))
	<-loaded
}

func serverNames(topo *topology.Topology) []string {
	var out []string
	for _, s := range topo.Servers {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return out
}
