package cluster

import (
	"io"
	"path/filepath"
	"testing"
	"time"
)

// TestStopWaitsThenHurries: stop gives a server its grace to drain, and a
// second Ctrl-C (hurry) ends the wait at once with SIGKILL.
func TestStopWaitsThenHurries(t *testing.T) {
	// A server that ignores SIGTERM, as one stuck in its drain would.
	p := &process{name: "stuck", exe: "/bin/sh", args: []string{"-c", "trap '' TERM; exec sleep 30"},
		logPath: filepath.Join(t.TempDir(), "stuck.log"), out: io.Discard}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill() })
	time.Sleep(100 * time.Millisecond) // let the shell set its trap

	hurry := make(chan struct{})
	stopped := make(chan struct{})
	go func() { p.stop(time.Minute, hurry); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("stop returned before its grace ran out, with the server ignoring SIGTERM")
	case <-time.After(500 * time.Millisecond):
	}
	close(hurry)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stop still waiting 5s after hurry")
	}
	select {
	case <-p.exitedCh():
	default:
		t.Fatal("the server is still running after stop returned")
	}
}
