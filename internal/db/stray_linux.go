package db

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// strays returns the processes started for dir by any run of rampart: those
// whose environment holds markerEnv=dir. The marker, not a program name,
// proves that a process is ours.
func strays(dir string) []int {
	marker := []byte(markerEnv + "=" + dir)
	self := os.Getpid()
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, marker) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// killStrays ends every stray of dir: SIGTERM, so a mariadbd can shut down
// cleanly and keep its position, then SIGKILL after grace. It returns the
// PIDs it found.
func killStrays(ctx context.Context, dir string, grace time.Duration) []int {
	found := strays(dir)
	if len(found) == 0 {
		return nil
	}
	for _, pid := range found {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for {
		left := strays(dir)
		if len(left) == 0 {
			return found
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			// A killed process leaves /proc (or turns zombie, which hides
			// its environment) at once; wait a moment for that.
			for i := 0; i < 50 && len(strays(dir)) > 0; i++ {
				time.Sleep(100 * time.Millisecond)
			}
			return found
		}
		time.Sleep(100 * time.Millisecond)
	}
}
