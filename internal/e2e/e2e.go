package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Main runs a package's tests. When RAMPART_E2E is set it first builds
// rampart into a temporary directory and stores its path in *bin, and
// removes it afterwards; otherwise *bin stays empty and Need skips.
func Main(m *testing.M, bin *string) {
	if os.Getenv("RAMPART_E2E") == "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "rampart-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "rampart")
	build := exec.Command("go", "build", "-o", *bin, "github.com/rampart-dev/rampart/cmd/rampart")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build rampart:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Need skips t unless Main built the binary.
func Need(t *testing.T, bin string) {
	t.Helper()
	if bin == "" {
		t.Skip("end-to-end test: set RAMPART_E2E=1 (scripts/test does)")
	}
}

// ProcessesMentioning lists the PIDs, other than this process, whose
// command line contains s: the servers of one `up` all name its state
// directory.
func ProcessesMentioning(s string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}
