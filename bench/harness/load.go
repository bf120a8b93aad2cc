package harness

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Measurement is what one load run saw.
type Measurement struct {
	Requests float64       // completed requests (or connections, for s_time)
	Elapsed  time.Duration // wall time of the run
	RPS      float64
	P50, P99 time.Duration // zero when the tool reports no latency
	Errors   int64         // socket errors plus non-2xx/3xx responses
	// CPU is the user plus system time the peer's processes spent during
	// the run; CPU over Requests is its cost per request.
	CPU time.Duration
	// MachineIdle and MachineBusy are how long all of the machine's CPUs
	// together sat idle and worked during the run: the load generator,
	// the backends and the kernel's softirq work as well as the peer.
	MachineIdle, MachineBusy time.Duration
}

// IdleShare is the part of the machine's CPU time that sat idle during
// the run, or -1 when unknown. On a machine the load saturates, idle CPU
// is time a request spent waiting for a process to be woken or moved to
// a free CPU.
func (m Measurement) IdleShare() float64 {
	total := m.MachineIdle + m.MachineBusy
	if total <= 0 {
		return -1
	}
	return float64(m.MachineIdle) / float64(total)
}

// CPUPerRequest is CPU over Requests, or zero when unknown.
func (m Measurement) CPUPerRequest() time.Duration {
	if m.Requests <= 0 || m.CPU <= 0 {
		return 0
	}
	return time.Duration(float64(m.CPU) / m.Requests)
}

// wrkArgs builds a wrk command line. closeConn adds "Connection: close",
// so every request opens a new connection (and wrk resumes the TLS session).
func wrkArgs(url string, d time.Duration, threads, conns int, closeConn bool) []string {
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", seconds(d), "--latency", "--timeout", "5s"}
	if closeConn {
		args = append(args, "-H", "Connection: close")
	}
	return append(args, url)
}

// seconds renders d the way wrk and s_time accept it: whole seconds, at
// least one.
func seconds(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}

// runWrk runs wrk and parses what it printed.
func runWrk(ctx context.Context, bin string, args []string) (Measurement, string, error) {
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return Measurement{}, string(out), fmt.Errorf("wrk %s: %w: %s", strings.Join(args, " "), err, lastLine(out))
	}
	m, err := parseWrk(string(out))
	if err != nil {
		return Measurement{}, string(out), fmt.Errorf("wrk %s: %w", strings.Join(args, " "), err)
	}
	return m, string(out), nil
}

var (
	wrkTotal   = regexp.MustCompile(`(?m)^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m|h),`)
	wrkRPS     = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkPct     = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	wrkSocket  = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx  = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: (\d+)`)
	stimeTotal = regexp.MustCompile(`(?m)^(\d+) connections in (\d+) real seconds`)
)

// parseWrk reads wrk's --latency report.
func parseWrk(out string) (Measurement, error) {
	var m Measurement
	t := wrkTotal.FindStringSubmatch(out)
	r := wrkRPS.FindStringSubmatch(out)
	if t == nil || r == nil {
		return m, fmt.Errorf("no request count in its output: %s", lastLine([]byte(out)))
	}
	m.Requests, _ = strconv.ParseFloat(t[1], 64)
	m.Elapsed = wrkDuration(t[2], t[3])
	m.RPS, _ = strconv.ParseFloat(r[1], 64)
	for _, p := range wrkPct.FindAllStringSubmatch(out, -1) {
		d := wrkDuration(p[2], p[3])
		if p[1] == "50" {
			m.P50 = d
		} else {
			m.P99 = d
		}
	}
	if m.P50 == 0 || m.P99 == 0 {
		return m, fmt.Errorf("no latency distribution in its output (was --latency given?)")
	}
	if s := wrkSocket.FindStringSubmatch(out); s != nil {
		for _, v := range s[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			m.Errors += n
		}
	}
	if s := wrkNon2xx.FindStringSubmatch(out); s != nil {
		n, _ := strconv.ParseInt(s[1], 10, 64)
		m.Errors += n
	}
	return m, nil
}

// wrkDuration converts wrk's "1.23ms" style figures.
func wrkDuration(num, unit string) time.Duration {
	v, _ := strconv.ParseFloat(num, 64)
	scale := map[string]float64{"us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}[unit]
	return time.Duration(v * scale)
}

// stimeArgs builds an openssl s_time command line that makes a full TLS
// handshake for every connection (-new: no session is ever resumed) and
// fetches path over HTTP/1.0 on each.
func stimeArgs(hostport, path string, d time.Duration) []string {
	return []string{"s_time", "-connect", hostport, "-www", path, "-new", "-time", seconds(d)}
}

// runStime runs clients s_time processes at once against the same target
// and sums their connections over the wall time they took. s_time prints
// only whole seconds, so the harness times the run itself.
func runStime(ctx context.Context, bin string, args []string, clients int) (Measurement, string, error) {
	type result struct {
		out []byte
		err error
	}
	start := time.Now()
	results := make(chan result, clients)
	for range clients {
		go func() {
			out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
			results <- result{out, err}
		}()
	}
	var m Measurement
	var all strings.Builder
	var first error
	for range clients {
		r := <-results
		all.Write(r.out)
		n, err := parseStime(string(r.out))
		if r.err != nil {
			err = fmt.Errorf("%w: %s", r.err, lastLine(r.out))
		}
		if err != nil && first == nil {
			first = fmt.Errorf("openssl %s: %w", strings.Join(args, " "), err)
		}
		m.Requests += n
	}
	m.Elapsed = time.Since(start)
	if first != nil {
		return m, all.String(), first
	}
	m.RPS = m.Requests / m.Elapsed.Seconds()
	return m, all.String(), nil
}

// parseStime returns the connections s_time made in its -new pass.
func parseStime(out string) (float64, error) {
	s := stimeTotal.FindStringSubmatch(out)
	if s == nil {
		return 0, fmt.Errorf("no connection count in its output: %s", lastLine([]byte(out)))
	}
	n, _ := strconv.ParseFloat(s[1], 64)
	if n == 0 {
		return 0, fmt.Errorf("no connection succeeded")
	}
	return n, nil
}

// lastLine returns the last non-empty line of out, for error messages.
func lastLine(out []byte) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	if last == "" {
		return "(no output)"
	}
	return last
}
