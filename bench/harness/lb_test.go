package harness

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBackendServesTheBodiesItsPeersAreMeasuredWith(t *testing.T) {
	h := BackendHandler("web-1", "http")
	for path, size := range map[string]int{PathSmall: SmallBodySize, PathLarge: LargeBodySize, PathHealth: SmallBodySize} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != 200 || rec.Body.Len() != size || rec.Header().Get("Content-Length") != strconv.Itoa(size) {
			t.Errorf("GET %s: %d, %d bytes (Content-Length %q), want 200 and %d", path, rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"), size)
		}
		if rec.Header().Get(HeaderBackend) != "web-1" {
			t.Errorf("GET %s: %s %q, want web-1", path, HeaderBackend, rec.Header().Get(HeaderBackend))
		}
	}
}

// TestRampartLBPassesThePreflightInBothModes runs the lb as the benchmark
// does, over two real backends, with real TLS to the client and, under
// reencrypt, mutual TLS to the backends, and holds it to the same preflight
// as every peer.
func TestRampartLBPassesThePreflightInBothModes(t *testing.T) {
	certs, err := PreparePKI(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addrs, err := freePorts(8)
	if err != nil {
		t.Fatal(err)
	}
	var plain, mtls []string
	for i, name := range BackendNames {
		c := BackendConfig{Name: name, Listen: addrs[2*i], TLSListen: addrs[2*i+1], PKIDir: certs.Dir, Domain: Domain, Allow: []string{LBName}}
		plain, mtls = append(plain, c.Listen), append(mtls, c.TLSListen)
		runUntilCleanup(t, func(ctx context.Context) error { return RunBackend(ctx, c) })
	}
	for i, mode := range []struct {
		name      string
		reencrypt bool
		ups       []string
		proto     string
	}{{PeerRampart, false, plain, "http"}, {PeerRampartReencrypt, true, mtls, "https"}} {
		t.Run(mode.name, func(t *testing.T) {
			cfg := LBConfig{Listen: addrs[4+2*i], Upstreams: mode.ups, Reencrypt: mode.reencrypt, PKIDir: certs.Dir, PprofListen: addrs[5+2*i]}
			runUntilCleanup(t, func(ctx context.Context) error { return RunLB(ctx, cfg) })
			c, err := client(certs.CACert, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			defer wcancel()
			if err := waitReady(wctx, c, "https://"+cfg.Listen+PathSmall, func() error { return nil }); err != nil {
				t.Fatal(err)
			}
			check, err := preflight(ctx, mode.name, cfg.Listen, certs.CACert, mode.proto)
			if err != nil {
				t.Fatal(err)
			}
			if !check.Resumes {
				t.Errorf("%s does not resume TLS sessions", mode.name)
			}
			resp, err := http.Get("http://" + cfg.PprofListen + "/debug/pprof/")
			if err != nil {
				t.Fatalf("pprof: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("pprof index: status %d", resp.StatusCode)
			}
		})
	}

	// A backend's mTLS listener refuses a client without the lb's
	// certificate, so the reencrypt figures are for real mutual TLS.
	c, err := client(certs.CACert, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Get("https://" + mtls[0] + PathSmall); err == nil {
		resp.Body.Close()
		t.Errorf("a client without a certificate got %d from the mTLS backend", resp.StatusCode)
	}
}

// runUntilCleanup runs fn in a goroutine and, at cleanup, stops it and
// waits for it to return.
func runUntilCleanup(t *testing.T, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stopped with: %v", err)
		}
	})
	select {
	case err := <-done:
		t.Fatalf("stopped at once: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestStopEndsTheWholeProcessGroup(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	// The child forks a grandchild, as nginx's master forks workers, and
	// ignores SIGTERM, so stop must fall back to SIGKILL for the group.
	log := filepath.Join(t.TempDir(), "log")
	p, err := startProc("group", log, nil, sh, "-c", `trap "" TERM; sleep 30 & echo $! ; wait`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(time.Second) })
	var grandchild int
	for deadline := time.Now().Add(3 * time.Second); grandchild == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the child never printed its grandchild's pid")
		}
		b, _ := os.ReadFile(log)
		grandchild, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	p.stop(200 * time.Millisecond)
	// The orphaned grandchild is reaped by init, not by us: a zombie is dead.
	for deadline := time.Now().Add(3 * time.Second); running(grandchild); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still runs after stop", grandchild)
		}
	}
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}
