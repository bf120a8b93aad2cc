package cluster

import "syscall"

// childAttr puts the child in its own process group, so a terminal's Ctrl-C
// reaches only `up`, which stops the servers in order; and it asks the
// kernel to end the child if `up` dies without stopping it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
