//go:build linux && (amd64 || arm64)

package evloop

// getg returns the address of the running goroutine's runtime descriptor:
// an identity that no other live goroutine shares, read from a register
// without a system call. A task records its own (task.g), so Current can
// tell a task from any other goroutine that uses the same connection.
func getg() uintptr
