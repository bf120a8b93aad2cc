//go:build unix

package app

import (
	"os/exec"
	"syscall"
)

// inOwnGroup makes the program lead a new process group, so signalling the
// group also reaches whatever it started.
func inOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
}

// terminateGroup asks every process in the group led by pid to exit.
func terminateGroup(pid int) { syscall.Kill(-pid, syscall.SIGTERM) }

// killGroup ends every process in the group led by pid.
func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }
