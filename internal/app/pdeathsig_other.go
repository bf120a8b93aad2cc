//go:build unix && !linux

package app

import "syscall"

// Only Linux can signal a child when its parent dies; elsewhere the program
// is stopped when Run's context ends.
func dieWithParent(a *syscall.SysProcAttr) {}
