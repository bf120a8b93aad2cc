package cluster_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"github.com/rampart-dev/rampart/internal/e2e"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The end-to-end tests start real `rampart` processes on loopback. They
// run when RAMPART_E2E=1, as scripts/test sets.
var rampartBin string

func TestMain(m *testing.M) { e2e.Main(m, &rampartBin) }

func needE2E(t *testing.T) {
	t.Helper()
	e2e.Need(t, rampartBin)
}

// running is a `rampart up` of a test.
type running struct{ *e2e.Up }

// startUp runs `rampart up --state DIR ARGS` and waits until the site is up.
// Cleanup stops it, checks that no process of it is left and removes what
// a netns run left.
func startUp(t *testing.T, args ...string) *running {
	t.Helper()
	state := t.TempDir()
	u := e2e.StartUp(t, rampartBin, state, 4*time.Minute, func(u *e2e.Up) { // up's own limit with db servers is 3m
		(&running{u}).stop(t)
		// Whatever a netns run left (after a SIGKILL, say) goes too.
		if out, err := exec.Command(rampartBin, "down", "--state", state).CombinedOutput(); err != nil {
			t.Errorf("rampart down: %v: %s", err, out)
		}
		if t.Failed() {
			t.Logf("rampart up printed:\n%s", u.Output())
			logs, _ := filepath.Glob(filepath.Join(state, "logs", "*.log"))
			for _, l := range logs {
				data, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", filepath.Base(l), tail(string(data), 15))
			}
		}
	}, args...)
	return &running{u}
}

// stop sends SIGTERM and checks that every process it started has ended.
func (r *running) stop(t *testing.T) {
	r.Stop(t, 40*time.Second)
	e2e.NoProcessesLeft(t, r.State)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// siteClient returns a client that trusts only the site's CA and sends
// requests for the site's domain to lbAddr, as curl --resolve does.
func siteClient(t *testing.T, caPath, lbAddr string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool},
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 64,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return dialer.DialContext(ctx, network, net.JoinHostPort(lbAddr, port))
			},
		},
	}
}

// writeTopology writes a topology file for a test.
func writeTopology(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rampart.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
