//go:build !unix

package app

import (
	"os"
	"os/exec"
)

// Without process groups only the program itself can be stopped.
func inOwnGroup(cmd *exec.Cmd) {}

func terminateGroup(pid int) { killGroup(pid) }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}
