package lb

import (
	"runtime"
	"testing"
)

func TestTuneProcsAddsOneUnlessSet(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)

	t.Setenv("GOMAXPROCS", "")
	TuneProcs()
	if got := runtime.GOMAXPROCS(0); got != before+1 {
		t.Fatalf("GOMAXPROCS after TuneProcs = %d, want %d", got, before+1)
	}
	runtime.GOMAXPROCS(before)

	t.Setenv("GOMAXPROCS", "2")
	TuneProcs()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS set by the user: TuneProcs changed it from %d to %d", before, got)
	}
}
