//go:build linux && !amd64 && !arm64

package evloop

import "syscall"

// getg stands in for the goroutine's identity with its thread's: a task's
// locked thread runs only the loop and its tasks, and Current checks that
// the loop is running a task. It costs a system call.
func getg() uintptr { return uintptr(syscall.Gettid()) }
