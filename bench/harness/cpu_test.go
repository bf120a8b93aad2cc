package harness

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func TestParseStatReadsGroupAndCPUPastACommandWithSpaces(t *testing.T) {
	line := "4242 (nginx: worker) S 4240 4240 4240 0 -1 4194624 300 0 0 0 1234 567 0 0 20 0 1 0 99 0 0\n"
	g, ticks, ok := parseStat(line)
	if !ok || g != 4240 || ticks != 1801 {
		t.Errorf("parseStat = %d, %d, %v; want group 4240 and 1801 ticks", g, ticks, ok)
	}
}

func TestGroupCPUCountsThisProcessWork(t *testing.T) {
	pgid, err := syscall.Getpgid(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the count moves; on a busy machine the spinning may get
	// only a share of a core, so wait for CPU time, not wall time.
	before := groupCPU(pgid)
	deadline := time.Now().Add(5 * time.Second)
	for groupCPU(pgid)-before < 50*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("5s of spinning counted as %v of CPU", groupCPU(pgid)-before)
		}
		for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
		}
	}
}
