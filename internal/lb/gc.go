package lb

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's target in a process that runs an
// lb, where Go's default is 100. A proxy's live heap is small (buffers and
// the requests in flight) and it allocates for every request, so with the
// default it collects constantly: at 400 it spent about a tenth less CPU
// per keep-alive request in paired runs (docs/performance.md).
const GCPercent = 400

// TuneGC sets the process's GC target to GCPercent and, so that a large
// live heap (many connections) cannot grow five times over, a soft memory
// limit of half the machine's memory. GOGC and GOMEMLIMIT, when set, win.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if total := totalMemory(); os.Getenv("GOMEMLIMIT") == "" && total > 0 {
		debug.SetMemoryLimit(total / 2)
	}
}
