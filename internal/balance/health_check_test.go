package balance

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestThresholdNeedsConsecutiveResults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		start   bool
		results string // p = pass, f = fail
		want    bool
	}{
		{"one failure keeps an upstream up", true, "f", true},
		{"two failures keep it up", true, "ff", true},
		{"three failures in a row take it down", true, "fff", false},
		{"a pass between failures resets the count", true, "ffpff", true},
		{"one pass keeps a down upstream down", false, "p", false},
		{"two passes in a row bring it up", false, "pp", true},
		{"a failure between passes resets the count", false, "pfp", false},
		{"flapping never changes state", true, "fpfpfpfpfp", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := threshold{rise: 2, fall: 3, healthy: tc.start}
			for _, r := range tc.results {
				th.observe(r == 'p')
			}
			if th.healthy != tc.want {
				t.Fatalf("after %q from healthy=%v: healthy=%v, want %v", tc.results, tc.start, th.healthy, tc.want)
			}
		})
	}
}

// flakyHealth is an upstream whose health endpoint fails while failing is set.
func flakyHealth(t *testing.T) (*upstream, *atomic.Bool, *atomic.Int64) {
	var failing atomic.Bool
	var checks atomic.Int64
	u := &upstream{name: "flaky"}
	u.Server = newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			checks.Add(1)
			if failing.Load() {
				http.Error(w, "sick", http.StatusInternalServerError)
			}
			return
		}
		u.hits.Add(1)
	})
	return u, &failing, &checks
}

func TestHealthCheckFallsAndRisesOnThresholds(t *testing.T) {
	u, failing, _ := flakyHealth(t)
	p := newPool(t, Config{Health: HealthCheck{Rise: 2, Fall: 3}}, u.addr())
	srv, client := front(t, p)
	check := p.checks[0]
	ctx := context.Background()

	steps := []struct {
		fail      bool
		wantUp    bool
		wantReply int
	}{
		{true, true, http.StatusOK},                   // one failed check is not enough
		{true, true, http.StatusOK},                   // nor two
		{true, false, http.StatusServiceUnavailable},  // Fall=3 failures take it down
		{false, false, http.StatusServiceUnavailable}, // one pass does not restore it
		{false, true, http.StatusOK},                  // Rise=2 passes do
	}
	for i, s := range steps {
		failing.Store(s.fail)
		check.checkOnce(ctx)
		if got := p.Status()[0].Healthy; got != s.wantUp {
			t.Fatalf("step %d (fail=%v): healthy=%v, want %v", i, s.fail, got, s.wantUp)
		}
		if code, _ := get(t, client, srv.URL); code != s.wantReply {
			t.Fatalf("step %d: status %d, want %d", i, code, s.wantReply)
		}
	}
}

func TestRunChecksAtIntervalAndServesAtOnce(t *testing.T) {
	u, failing, checks := flakyHealth(t)
	p := newPool(t, Config{Health: HealthCheck{Interval: 20 * time.Millisecond, Rise: 2, Fall: 2}}, u.addr())
	srv, client := front(t, p)

	// Upstreams start healthy: the site answers before any check has run.
	if code, _ := get(t, client, srv.URL); code != http.StatusOK {
		t.Fatalf("before the first check: status %d, want 200", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	failing.Store(true)
	eventually(t, "Run marks the failing upstream down", func() bool { return !p.Status()[0].Healthy })
	failing.Store(false)
	eventually(t, "Run marks it up again", func() bool { return p.Status()[0].Healthy })
	if checks.Load() < 4 {
		t.Fatalf("only %d checks ran", checks.Load())
	}
	cancel()
	<-done
	n := checks.Load()
	time.Sleep(60 * time.Millisecond)
	if checks.Load() != n {
		t.Fatal("health checks continued after Run returned")
	}
}

func TestHealthCheckTimesOut(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	u := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-block })
	p := newPool(t, Config{Health: HealthCheck{Timeout: 20 * time.Millisecond, Fall: 1}}, u.Listener.Addr().String())
	start := time.Now()
	p.checks[0].checkOnce(context.Background())
	if took := time.Since(start); took > time.Second {
		t.Fatalf("check took %v, want about the 20ms timeout", took)
	}
	if p.Status()[0].Healthy {
		t.Fatal("an upstream that never answers its health check stayed healthy")
	}
}

func TestActiveCheckReadmitsEjectedUpstreamAfterRise(t *testing.T) {
	u, _, _ := flakyHealth(t)
	p := newPool(t, Config{Health: HealthCheck{Rise: 2}, EjectFor: time.Hour}, u.addr())
	h := p.hosts[0]
	h.eject(mono(), time.Hour)

	p.checks[0].checkOnce(context.Background())
	if !p.Status()[0].Ejected {
		t.Fatal("one passing check ended the ejection; want Rise=2")
	}
	p.checks[0].checkOnce(context.Background())
	if p.Status()[0].Ejected {
		t.Fatal("Rise passing checks after the ejection did not readmit the upstream")
	}
}

func TestHealthCheckUsesPathAndAcceptsRedirects(t *testing.T) {
	var path atomic.Value
	u := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		path.Store(r.URL.Path)
		if strings.HasPrefix(r.URL.Path, "/up") {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	})
	p := newPool(t, Config{Health: HealthCheck{Path: "/up", Fall: 1}}, u.Listener.Addr().String())
	p.checks[0].checkOnce(context.Background())
	if got := path.Load(); got != "/up" {
		t.Fatalf("checked path %v, want /up", got)
	}
	if !p.Status()[0].Healthy {
		t.Fatal("a 302 failed the check; 2xx and 3xx should pass")
	}
}
