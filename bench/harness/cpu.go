package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, which
// Linux fixes at 100 for user space on every architecture it reports to.
const userHZ = 100

// groupCPU returns the CPU time (user plus system) that the live processes
// of process group pgid have used so far: a peer's master and workers, or
// a Go process's threads. It is the figure that other work on a shared
// machine disturbs least, since it counts only what the peer itself spent.
func groupCPU(pgid int) time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended meanwhile
		}
		if g, t, ok := parseStat(string(b)); ok && g == pgid {
			ticks += t
		}
	}
	return time.Duration(ticks) * time.Second / userHZ
}

// parseStat returns the process group and utime+stime in ticks from one
// /proc/PID/stat line. The command name, in parentheses, may hold spaces,
// so fields are counted from the last ')'.
func parseStat(s string) (pgrp int, ticks int64, ok bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, false
	}
	g, err1 := strconv.Atoi(f[2])
	u, err2 := strconv.ParseInt(f[11], 10, 64)
	st, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	return g, u + st, true
}

// machineTime returns how long all of the machine's CPUs have been idle
// (idle plus iowait) and busy (every other state) since boot, from the
// first line of /proc/stat. Unlike groupCPU it also counts what no
// process is charged for: the kernel's softirq work (on loopback, most of
// the receiving side of TCP) and the time the CPUs sat idle while
// requests were in flight, which is latency no process shows as CPU.
func machineTime() (idle, busy time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	idle, busy, _ = parseMachineStat(line)
	return idle, busy
}

// parseMachineStat reads the "cpu" line of /proc/stat: user, nice,
// system, idle, iowait, irq, softirq, steal, in ticks. Guest time is
// already inside user and nice, so it is not added again.
func parseMachineStat(line string) (idle, busy time.Duration, ok bool) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, false
	}
	var ticks [8]int64
	for i := range ticks {
		v, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return 0, 0, false
		}
		ticks[i] = v
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / userHZ }
	idleTicks := ticks[3] + ticks[4]
	busyTicks := ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
	return tick(idleTicks), tick(busyTicks), true
}

// busyBefore samples the machine's CPUs for d before anything of the
// benchmark runs and says how busy other work kept them: a process left
// over from an earlier run, or a neighbour, takes CPU from every peer and
// widens every figure's spread.
func busyBefore(d time.Duration) string {
	idle0, busy0 := machineTime()
	time.Sleep(d)
	idle1, busy1 := machineTime()
	return describeBusy(idle1-idle0, busy1-busy0)
}

// describeBusy renders the busy share of an idle and a busy time, with a
// warning when other work held more than a tenth of the CPUs.
func describeBusy(idle, busy time.Duration) string {
	if idle+busy <= 0 {
		return "CPUs busy before the run: unknown"
	}
	share := float64(busy) / float64(idle+busy)
	s := fmt.Sprintf("CPUs %.0f%% busy before the run", share*100)
	if share > 0.10 {
		s += " (WARNING: other work is running; every figure will be noisier)"
	}
	return s
}
