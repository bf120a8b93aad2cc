package harness

import (
	"os"
	"strings"
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

func TestParseMachineStatSplitsIdleFromBusy(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	idle, busy, ok := parseMachineStat("cpu  1000 10 500 300 20 0 170 0 40 0")
	if !ok || idle != 3200*time.Millisecond || busy != 16800*time.Millisecond {
		t.Errorf("parseMachineStat = %v, %v, %v; want 3.2s idle (idle+iowait) and 16.8s busy (guest not counted twice)", idle, busy, ok)
	}
	if _, _, ok := parseMachineStat("cpu0 1 2 3 4 5 6 7 8"); ok {
		t.Error("a per-CPU line was taken for the machine's total")
	}
}

func TestMachineTimeMovesWithTheClock(t *testing.T) {
	idle0, busy0 := machineTime()
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
	}
	idle1, busy1 := machineTime()
	// This process spun for 200ms on one CPU, so the machine's CPUs
	// together accounted for at least that much time, busy or idle.
	if moved := (idle1 - idle0) + (busy1 - busy0); moved < 150*time.Millisecond {
		t.Errorf("/proc/stat moved %v over 200ms of spinning", moved)
	}
	if busy1-busy0 < 100*time.Millisecond {
		t.Errorf("200ms of spinning counted as %v busy", busy1-busy0)
	}
}

func TestDescribeBusyWarnsWhenOtherWorkHoldsTheCPUs(t *testing.T) {
	for _, c := range []struct {
		idle, busy time.Duration
		want       string
		warn       bool
	}{
		{1900 * time.Millisecond, 100 * time.Millisecond, "CPUs 5% busy before the run", false},
		{1400 * time.Millisecond, 600 * time.Millisecond, "CPUs 30% busy before the run", true},
		{0, 0, "unknown", false},
	} {
		got := describeBusy(c.idle, c.busy)
		if !strings.Contains(got, c.want) || strings.Contains(got, "WARNING") != c.warn {
			t.Errorf("describeBusy(%v, %v) = %q; want %q, warning %v", c.idle, c.busy, got, c.want, c.warn)
		}
	}
}
