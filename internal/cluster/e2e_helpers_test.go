package cluster_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"github.com/rampart-dev/rampart/internal/e2e"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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

// running is a `rampart up` child process and what it printed.
type running struct {
	cmd   *exec.Cmd
	state string
	mu    sync.Mutex
	out   bytes.Buffer
	lines chan string
	done  chan struct{}
}

func (r *running) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// startUp runs `rampart up ARGS --state DIR` and waits until the site is up.
// Cleanup stops it and checks that no process of it is left.
func startUp(t *testing.T, args ...string) *running {
	t.Helper()
	state := t.TempDir()
	r := &running{state: state, lines: make(chan string, 1000), done: make(chan struct{})}
	r.cmd = exec.Command(rampartBin, append([]string{"up", "--state", state}, args...)...)
	pr, pw := io.Pipe()
	r.cmd.Stdout, r.cmd.Stderr = pw, pw
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.mu.Lock()
			r.out.WriteString(sc.Text() + "\n")
			r.mu.Unlock()
			select {
			case r.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { r.cmd.Wait(); pw.Close(); close(r.done) }()
	t.Cleanup(func() {
		r.stop(t)
		// Whatever a netns run left (after a SIGKILL, say) goes too.
		if out, err := exec.Command(rampartBin, "down", "--state", state).CombinedOutput(); err != nil {
			t.Errorf("rampart down: %v: %s", err, out)
		}
		if t.Failed() {
			t.Logf("rampart up printed:\n%s", r.output())
			logs, _ := filepath.Glob(filepath.Join(state, "logs", "*.log"))
			for _, l := range logs {
				data, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", filepath.Base(l), tail(string(data), 15))
			}
		}
	})
	deadline := time.After(4 * time.Minute) // up's own limit with db servers is 3m
	for {
		select {
		case line := <-r.lines:
			if strings.HasPrefix(line, "Press Ctrl-C to stop") { // the last line of the site details
				return r
			}
		case <-r.done:
			t.Fatalf("rampart up exited before the site was up:\n%s", r.output())
		case <-deadline:
			t.Fatalf("the site did not come up in 4m:\n%s", r.output())
		}
	}
}

// stop sends SIGTERM and checks that every process it started has ended.
func (r *running) stop(t *testing.T) {
	if r.cmd.ProcessState == nil {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(40 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
			t.Error("rampart up did not stop within 40s of SIGTERM")
		}
	}
	if left := e2e.ProcessesMentioning(r.state); len(left) > 0 {
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Errorf("processes left after up stopped: %v", left)
	}
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
