package lb

import (
	"os"
	"runtime"
)

// TuneProcs gives a process that runs an lb one more P than Go's default
// (the CPUs it may use), unless GOMAXPROCS is set.
//
// The lb's sockets are read and written with raw system calls
// (internal/rawio), so a thread keeps its P while the kernel does the TCP
// work of a write. When the kernel preempts that thread for another
// process on the same CPUs (the backends, a database, a load generator),
// the P and the goroutines queued on it wait for it. With one spare P,
// another thread goes on with them. On two CPUs shared with the
// benchmark's load and backends this served 1.10x the requests at the
// default, with a lower p99 (docs/performance.md); on a machine the lb has
// to itself the spare P is idle and costs nothing.
func TuneProcs() {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
}
