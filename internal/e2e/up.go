package e2e

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Up is a `rampart up` child process and what it printed.
type Up struct {
	Cmd   *exec.Cmd
	State string // its --state directory

	mu    sync.Mutex
	out   bytes.Buffer
	ready chan struct{} // closed when up has printed the site's details
	done  chan struct{} // closed when up has exited
}

// StartUp runs `bin up --state state ARGS` and waits up to timeout for the
// site to be up. The caller's cleanup must Stop it, and should be
// registered by cleanup, which StartUp registers before it waits so that a
// site that never comes up is stopped too; cleanup may be nil.
func StartUp(t *testing.T, bin, state string, timeout time.Duration, cleanup func(*Up), args ...string) *Up {
	t.Helper()
	u := &Up{State: state, ready: make(chan struct{}), done: make(chan struct{})}
	u.Cmd = exec.Command(bin, append([]string{"up", "--state", state}, args...)...)
	pr, pw := io.Pipe()
	u.Cmd.Stdout, u.Cmd.Stderr = pw, pw
	if err := u.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		var once sync.Once
		for sc.Scan() {
			u.mu.Lock()
			u.out.WriteString(sc.Text() + "\n")
			u.mu.Unlock()
			if strings.HasPrefix(sc.Text(), "Press Ctrl-C to stop") { // the last line of the site's details
				once.Do(func() { close(u.ready) })
			}
		}
	}()
	go func() { u.Cmd.Wait(); pw.Close(); close(u.done) }()
	if cleanup != nil {
		t.Cleanup(func() { cleanup(u) })
	}
	select {
	case <-u.ready:
		return u
	case <-u.done:
		t.Fatalf("rampart up exited before the site was up:\n%s", u.Output())
	case <-time.After(timeout):
		t.Fatalf("the site did not come up in %v:\n%s", timeout, u.Output())
	}
	return nil
}

// Output is everything up printed so far.
func (u *Up) Output() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.out.String()
}

// Done is closed when up has exited.
func (u *Up) Done() <-chan struct{} { return u.done }

// Stop sends up SIGTERM, unless it has exited, and waits up to grace
// before it kills it and fails t.
func (u *Up) Stop(t *testing.T, grace time.Duration) {
	select {
	case <-u.done:
		return
	default:
	}
	u.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-u.done:
	case <-time.After(grace):
		u.Cmd.Process.Kill()
		<-u.done
		t.Errorf("rampart up did not stop within %v of SIGTERM", grace)
	}
}

// NoProcessesLeft fails t, and kills them, if any process still names
// state: the servers of one `up` all do.
func NoProcessesLeft(t *testing.T, state string) {
	if left := ProcessesMentioning(state); len(left) > 0 {
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Errorf("processes left after up stopped: %v", left)
	}
}
