package app

import "syscall"

// dieWithParent has the kernel send SIGTERM to the program when rampart
// dies, even by SIGKILL, so it never runs unsupervised. The signal follows
// the OS thread that started the program; Go only ends threads that a
// goroutine locked and did not unlock, which the supervisor never does.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGTERM }
