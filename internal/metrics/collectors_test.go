package metrics

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-dev/rampart/internal/balance"
)

func TestPoolCollectorExportsEachBackend(t *testing.T) {
	status := []balance.UpstreamStatus{
		{Name: "web-1", Healthy: true, Requests: 10, Retries: 1},
		{Name: "web-2", Healthy: false, Ejected: true, Requests: 4, Failures: 2, Ejections: 1, InFlight: 3},
	}
	c := NewPoolCollector("web", func() []balance.UpstreamStatus { return status })
	want := `
rampart_backend_up{backend="web-1",service="web"} 1
rampart_backend_up{backend="web-2",service="web"} 0
rampart_backend_ejected{backend="web-1",service="web"} 0
rampart_backend_ejected{backend="web-2",service="web"} 1
rampart_backend_ejections_total{backend="web-1",service="web"} 0
rampart_backend_ejections_total{backend="web-2",service="web"} 1
rampart_backend_failures_total{backend="web-1",service="web"} 0
rampart_backend_failures_total{backend="web-2",service="web"} 2
rampart_backend_requests_in_flight{backend="web-1",service="web"} 0
rampart_backend_requests_in_flight{backend="web-2",service="web"} 3
rampart_backend_requests_total{backend="web-1",service="web"} 10
rampart_backend_requests_total{backend="web-2",service="web"} 4
rampart_backend_retries_total{backend="web-1",service="web"} 1
rampart_backend_retries_total{backend="web-2",service="web"} 0
`
	if got := text(t, c); got != lines(want) {
		t.Errorf("exported:\n%s\nwant:\n%s", got, lines(want))
	}
	// A server with two pools registers two collectors side by side.
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, NewPoolCollector("app", func() []balance.UpstreamStatus { return status }))
}

func TestCertificateExpiryIsSecondsLeftNow(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewCertificates()
	c.now = func() time.Time { return now }
	c.Add("site", func() *x509.Certificate { return &x509.Certificate{NotAfter: now.Add(36 * time.Hour)} })
	c.Add("gone", func() *x509.Certificate { return nil })
	c.Add("old", func() *x509.Certificate { return &x509.Certificate{NotAfter: now.Add(-time.Minute)} })
	want := `
rampart_tls_certificate_expiry_seconds{certificate="old"} -60
rampart_tls_certificate_expiry_seconds{certificate="site"} 129600
`
	if got := text(t, c); got != lines(want) {
		t.Errorf("exported:\n%s\nwant:\n%s", got, lines(want))
	}
}

func TestHostCollectorReadsThisHost(t *testing.T) {
	c, err := NewHostCollector()
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			got[f.GetName()] += v
		}
	}
	for _, name := range []string{HostCPUSeconds, HostCPUs, HostMemoryTotal, HostMemoryAvailable,
		HostNetReceiveBytes, HostFDsAllocated, HostFDsMax} {
		if got[name] <= 0 {
			t.Errorf("%s = %v, want a positive reading of /proc", name, got[name])
		}
	}
	if got[HostMemoryAvailable] > got[HostMemoryTotal] {
		t.Errorf("available memory %v above total %v", got[HostMemoryAvailable], got[HostMemoryTotal])
	}
}

func TestPartitionsAndLoopDevicesAreNotDisks(t *testing.T) {
	for dev, skip := range map[string]bool{
		"sda": false, "sda1": true, "vda": false, "vda2": true, "nvme0n1": false, "nvme0n1p3": true,
		"loop7": true, "ram0": true, "zram0": true, "dm-0": false, "sr0": true, "mmcblk0": false, "mmcblk0p1": true,
	} {
		if got := skipDisk.MatchString(dev); got != skip {
			t.Errorf("%s: skipped=%v, want %v", dev, got, skip)
		}
	}
}
