package harness

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/rampart-dev/rampart/internal/metrics"
)

// TestMonitoredLBCountsEveryRequestItServes runs the monitored lb as the
// benchmark does, over two real backends, and scrapes its admin endpoint
// over mutual TLS as the harness does: every request sent through it must
// show in rampart_http_requests_total, so the monitoring scenario can never
// measure an lb that counts nothing.
func TestMonitoredLBCountsEveryRequestItServes(t *testing.T) {
	certs, err := PreparePKI(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	addrs, err := freePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	var ups []string
	for i, name := range BackendNames {
		c := BackendConfig{Name: name, Listen: addrs[i], Domain: Domain}
		ups = append(ups, c.Listen)
		runUntilCleanup(t, func(ctx context.Context) error { return RunBackend(ctx, c) })
	}
	cfg := LBConfig{Listen: addrs[2], Upstreams: ups, PKIDir: certs.Dir, Monitored: true, AdminListen: addrs[3]}
	runUntilCleanup(t, func(ctx context.Context) error { return RunLB(ctx, cfg) })
	c, err := client(certs.CACert, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	if err := waitReady(ctx, c, "https://"+cfg.Listen+PathSmall, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := preflight(ctx, PeerRampartMonitored, cfg.Listen, certs.CACert, "http"); err != nil {
		t.Fatalf("the monitored lb fails the preflight every peer passes: %v", err)
	}

	s, err := NewScraper(certs.Dir, cfg.AdminListen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.client.CloseIdleConnections)
	before, err := s.Requests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const sent = 37
	for range sent {
		if _, _, err := get(ctx, c, "https://"+cfg.Listen+PathSmall); err != nil {
			t.Fatal(err)
		}
	}
	after, err := s.Requests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after-before != sent {
		t.Errorf("%s grew by %v over %d requests, want exactly %d", metrics.HTTPRequests, after-before, sent, sent)
	}

	// The harness's own check passes on a counted run and fails on one the
	// lb did not count.
	if _, err := checkCounted(ctx, &peer{name: PeerRampartMonitored, scraper: s}, before, Measurement{Requests: sent}); err != nil {
		t.Errorf("checkCounted on a counted run: %v", err)
	}
	if _, err := checkCounted(ctx, &peer{name: PeerRampartMonitored, scraper: s}, after, Measurement{Requests: sent}); err == nil ||
		!strings.Contains(err.Error(), "not on the request path") {
		t.Errorf("checkCounted on a run the lb did not count: %v, want an error", err)
	}

	// What a node exports beside the request counters is there too: the
	// pool, handshakes, certificates, the host and the process, all under
	// the server's name.
	fams, err := s.scrape(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{metrics.HTTPRequestDuration, metrics.BackendUp, metrics.BackendRequests, metrics.TLSHandshakes,
		metrics.CertExpiry, metrics.HostCPUs, metrics.ServerInfo, metrics.ProcessCPUSeconds} {
		f := fams[name]
		if f == nil || len(f.GetMetric()) == 0 {
			t.Errorf("/metrics lacks %s", name)
			continue
		}
		if v := label(f.GetMetric()[0], metrics.LabelServer); v != LBName {
			t.Errorf("%s has server=%q, want %q", name, v, LBName)
		}
	}
	if st := s.Stats(); st.OK < 4 || st.Failed != 0 || st.Bytes == 0 {
		t.Errorf("scrape stats %+v, want 4 or more good scrapes and no failure", st)
	}

	// The admin endpoint is mutual TLS, as a node's: a client with no
	// certificate gets nothing.
	if resp, err := c.Get("https://" + cfg.AdminListen + "/metrics"); err == nil {
		resp.Body.Close()
		t.Errorf("a client without a certificate got %d from the admin endpoint", resp.StatusCode)
	}
}

func TestAMonitoredLBNeedsAnAdminAddress(t *testing.T) {
	certs, err := PreparePKI(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewLB(LBConfig{Listen: "127.0.0.1:1", Upstreams: []string{"127.0.0.1:2"}, PKIDir: certs.Dir, Monitored: true})
	if err == nil || !strings.Contains(err.Error(), "admin") {
		t.Errorf("monitored without an admin address: %v, want an error naming it", err)
	}
	s, err := NewLB(LBConfig{Listen: "127.0.0.1:1", Upstreams: []string{"127.0.0.1:2"}, PKIDir: certs.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if s.Monitored() {
		t.Error("an lb built without Monitored counts its requests")
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
