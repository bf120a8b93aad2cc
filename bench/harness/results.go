package harness

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sample is one measured load run.
type Sample struct {
	Round    int
	Scenario string
	Peer     string
	Measurement
}

// Summary is the median of a peer's runs in one scenario.
type Summary struct {
	Scenario string
	Peer     string
	Runs     int
	RPS      float64
	P50, P99 time.Duration // zero when the tool reports no latency
	Errors   int64         // over all runs
	// CPUPerReq is the median CPU time the peer spent per request.
	CPUPerReq time.Duration
	// IdleShare is the median share of the machine's CPU time that sat
	// idle during the peer's runs, or -1 when unknown.
	IdleShare float64
}

// Summarize reduces runs to one median per (scenario, peer), in the order of
// scenarios and their peers. The median, not the mean, so one run disturbed
// by a neighbour on the shared machine does not move the figure.
func Summarize(scenarios []Scenario, runs []Sample) []Summary {
	var out []Summary
	for _, s := range scenarios {
		for _, p := range s.Peers {
			var rps, idle []float64
			var p50, p99, cpu []time.Duration
			var errs int64
			for _, r := range runs {
				if r.Scenario != s.Name || r.Peer != p {
					continue
				}
				rps = append(rps, r.RPS)
				p50 = append(p50, r.P50)
				p99 = append(p99, r.P99)
				cpu = append(cpu, r.CPUPerRequest())
				if share := r.IdleShare(); share >= 0 {
					idle = append(idle, share)
				}
				errs += r.Errors
			}
			if len(rps) == 0 {
				continue
			}
			sum := Summary{Scenario: s.Name, Peer: p, Runs: len(rps),
				RPS: median(rps), P50: median(p50), P99: median(p99), Errors: errs, CPUPerReq: median(cpu), IdleShare: -1}
			if len(idle) > 0 {
				sum.IdleShare = median(idle)
			}
			out = append(out, sum)
		}
	}
	return out
}

func median[T float64 | time.Duration](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Ratio is the base peer's requests per second over another peer's.
type Ratio struct {
	Scenario   string
	Base, Peer string
	RPS        float64 // base / peer
	BaseP99    time.Duration
	PeerP99    time.Duration
	BaseCPU    time.Duration // CPU per request
	PeerCPU    time.Duration
}

// Ratios returns, for every scenario, its base's ratio to each other peer.
func Ratios(scenarios []Scenario, sums []Summary) []Ratio {
	find := func(s, p string) (Summary, bool) {
		for _, x := range sums {
			if x.Scenario == s && x.Peer == p {
				return x, true
			}
		}
		return Summary{}, false
	}
	var out []Ratio
	for _, s := range scenarios {
		base, ok := find(s.Name, s.Base)
		if !ok {
			continue
		}
		for _, p := range s.Peers {
			if p == s.Base {
				continue
			}
			if other, ok := find(s.Name, p); ok && other.RPS > 0 {
				out = append(out, Ratio{Scenario: s.Name, Base: s.Base, Peer: p, RPS: base.RPS / other.RPS,
					BaseP99: base.P99, PeerP99: other.P99, BaseCPU: base.CPUPerReq, PeerCPU: other.CPUPerReq})
			}
		}
	}
	return out
}

// RoundRatios returns base's req/s over peer's in each round where both
// ran scenario, in round order. The rounds alternate which peer goes first,
// so a round's ratio compares two runs seconds apart: load that other work
// puts on the machine for minutes moves both, and each round's ratio shows
// what is left of it that the median of each peer hides.
func RoundRatios(runs []Sample, scenario, base, peer string) []float64 {
	return roundRatios(runs, scenario, base, peer, func(m Measurement) float64 { return m.RPS })
}

// RoundP99Ratios is RoundRatios for p99 latency: under 1 where base's
// tail was the shorter.
func RoundP99Ratios(runs []Sample, scenario, base, peer string) []float64 {
	return roundRatios(runs, scenario, base, peer, func(m Measurement) float64 { return m.P99.Seconds() })
}

func roundRatios(runs []Sample, scenario, base, peer string, of func(Measurement) float64) []float64 {
	byRound := map[int][2]float64{}
	var rounds []int
	for _, r := range runs {
		if r.Scenario != scenario || (r.Peer != base && r.Peer != peer) {
			continue
		}
		v, seen := byRound[r.Round]
		if !seen {
			rounds = append(rounds, r.Round)
		}
		if r.Peer == base {
			v[0] = of(r.Measurement)
		} else {
			v[1] = of(r.Measurement)
		}
		byRound[r.Round] = v
	}
	slices.Sort(rounds)
	var out []float64
	for _, n := range rounds {
		if v := byRound[n]; v[0] > 0 && v[1] > 0 {
			out = append(out, v[0]/v[1])
		}
	}
	return out
}

// roundByRound is the goals' line for RoundRatios, empty with fewer than two
// rounds.
func roundByRound(what string, ratios []float64) string {
	if len(ratios) < 2 {
		return ""
	}
	var b strings.Builder
	for i, r := range ratios {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%.2f", r)
	}
	lo, hi := slices.Min(ratios), slices.Max(ratios)
	return fmt.Sprintf("(for information) %s round by round: %s (%.2f to %.2f, median %.2f)", what, b.String(), lo, hi, median(ratios))
}

// controlLine compares a twin (c, the peer twin in scenario) with its
// original (h): the same proxy, so every difference is the machine's. The
// goals' ratios mean something only where they go beyond it.
func controlLine(scenario, twin string, c, h Summary, runs []Sample) string {
	orig := twinOf[twin]
	rps := RoundRatios(runs, scenario, twin, orig)
	p99 := RoundP99Ratios(runs, scenario, twin, orig)
	name := peerTitles[orig]
	if name == "" {
		name = orig
	}
	line := fmt.Sprintf("(for information) noise in %s: a second, identical %s / %s: req/s %.2fx, p99 %s vs %s",
		scenario, name, name, c.RPS/h.RPS, human(c.P99), human(h.P99))
	if c.P99 > 0 && h.P99 > 0 {
		line += fmt.Sprintf(" (%.2fx)", float64(c.P99)/float64(h.P99))
	}
	if len(rps) >= 2 && len(p99) >= 2 {
		line += fmt.Sprintf("; round by round req/s %.2f to %.2f, p99 %.2f to %.2f",
			slices.Min(rps), slices.Max(rps), slices.Min(p99), slices.Max(p99))
	}
	return line
}

// WriteRunsCSV writes every run, one row each.
func WriteRunsCSV(path string, runs []Sample) error {
	rows := [][]string{{"round", "scenario", "peer", "requests", "seconds", "req_per_s", "p50_ms", "p99_ms", "errors", "cpu_seconds", "cpu_us_per_req", "machine_idle_pct"}}
	for _, r := range runs {
		rows = append(rows, []string{strconv.Itoa(r.Round), r.Scenario, r.Peer,
			strconv.FormatFloat(r.Requests, 'f', 0, 64), strconv.FormatFloat(r.Elapsed.Seconds(), 'f', 3, 64),
			strconv.FormatFloat(r.RPS, 'f', 1, 64), ms(r.P50), ms(r.P99), strconv.FormatInt(r.Errors, 10),
			strconv.FormatFloat(r.CPU.Seconds(), 'f', 2, 64), us(r.CPUPerRequest()), pct(r.IdleShare())})
	}
	return writeCSV(path, rows)
}

// WriteSummaryCSV writes the medians and, for each, the base's ratio to it.
func WriteSummaryCSV(path string, scenarios []Scenario, sums []Summary) error {
	rows := [][]string{{"scenario", "peer", "runs", "req_per_s", "p50_ms", "p99_ms", "errors", "cpu_us_per_req", "base", "base_ratio", "machine_idle_pct"}}
	ratios := Ratios(scenarios, sums)
	for _, s := range sums {
		base, ratio := "", ""
		for _, r := range ratios {
			if r.Scenario == s.Scenario && r.Peer == s.Peer {
				base, ratio = r.Base, strconv.FormatFloat(r.RPS, 'f', 3, 64)
			}
		}
		rows = append(rows, []string{s.Scenario, s.Peer, strconv.Itoa(s.Runs), strconv.FormatFloat(s.RPS, 'f', 1, 64),
			ms(s.P50), ms(s.P99), strconv.FormatInt(s.Errors, 10), us(s.CPUPerReq), base, ratio, pct(s.IdleShare)})
	}
	return writeCSV(path, rows)
}

func writeCSV(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// ms renders a latency in milliseconds for CSV; empty when unknown.
func ms(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64)
}

// us renders a duration in microseconds for CSV; empty when unknown.
func us(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64)
}

// pct renders a share in percent for CSV; empty when unknown.
func pct(share float64) string {
	if share < 0 {
		return ""
	}
	return strconv.FormatFloat(share*100, 'f', 2, 64)
}

// percent renders a share for people; "-" when unknown.
func percent(share float64) string {
	if share < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", share*100)
}

// human renders a latency for the table.
func human(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fus", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// WriteTable prints the medians as an aligned text table (markdown=false)
// or a markdown table, followed by the ratios.
func WriteTable(w io.Writer, scenarios []Scenario, sums []Summary, markdown bool) {
	title := map[string]string{}
	for _, s := range scenarios {
		title[s.Name] = s.Title
	}
	rows := [][]string{{"scenario", "peer", "req/s", "p50", "p99", "CPU/req", "errors"}}
	for _, s := range sums {
		rows = append(rows, []string{title[s.Scenario], s.Peer, strconv.FormatFloat(s.RPS, 'f', 0, 64),
			human(s.P50), human(s.P99), human(s.CPUPerReq), strconv.FormatInt(s.Errors, 10)})
	}
	writeRows(w, rows, markdown)
	fmt.Fprintln(w)

	ratios := Ratios(scenarios, sums)
	rrows := [][]string{{"scenario", "ratio", "req/s", "p99", "CPU/req"}}
	for _, r := range ratios {
		rrows = append(rrows, []string{title[r.Scenario], r.Base + " / " + r.Peer,
			strconv.FormatFloat(r.RPS, 'f', 2, 64) + "x", human(r.BaseP99) + " vs " + human(r.PeerP99),
			human(r.BaseCPU) + " vs " + human(r.PeerCPU)})
	}
	writeRows(w, rrows, markdown)
}

func writeRows(w io.Writer, rows [][]string, markdown bool) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	for n, r := range rows {
		var b strings.Builder
		for i, c := range r {
			numeric := i >= 2
			if markdown {
				b.WriteString("| ")
			}
			if numeric {
				fmt.Fprintf(&b, "%*s", width[i], c)
			} else {
				fmt.Fprintf(&b, "%-*s", width[i], c)
			}
			b.WriteString(" ")
			if !markdown && i < len(r)-1 {
				b.WriteString(" ")
			}
		}
		if markdown {
			b.WriteString("|")
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if markdown && n == 0 {
			var sep strings.Builder
			for i := range r {
				if i >= 2 {
					sep.WriteString("|" + strings.Repeat("-", width[i]+1) + ":")
				} else {
					sep.WriteString("|" + strings.Repeat("-", width[i]+2))
				}
			}
			fmt.Fprintln(w, sep.String()+"|")
		}
	}
}

// Goals checks the issues' targets and returns one line for each: rampart
// at least 1.0x HAProxy's req/s on keep-alive with a p99 no worse (and,
// from runs, its ratio round by round),
// reencrypt costing at most 15% of terminate's throughput, and monitoring
// costing under 3% of it.
func Goals(sums []Summary, runs []Sample) []string {
	find := func(s, p string) (Summary, bool) {
		for _, x := range sums {
			if x.Scenario == s && x.Peer == p {
				return x, true
			}
		}
		return Summary{}, false
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	var out []string
	r, ok1 := find("keepalive", PeerRampart)
	h, ok2 := find("keepalive", PeerHAProxy)
	if ok1 && ok2 && h.RPS > 0 {
		ratio := r.RPS / h.RPS
		out = append(out, fmt.Sprintf("keep-alive req/s >= 1.0x HAProxy: %.2fx, %s", ratio, verdict(ratio >= 1.0)))
		out = append(out, fmt.Sprintf("keep-alive p99 <= HAProxy's: %s vs %s, %s", human(r.P99), human(h.P99), verdict(r.P99 <= h.P99)))
		if l := roundByRound("keep-alive rampart / haproxy req/s", RoundRatios(runs, "keepalive", PeerRampart, PeerHAProxy)); l != "" {
			out = append(out, l)
		}
		// The tail moves more from round to round than the rate does: how
		// often it was no worse says more than the medians' one verdict.
		p99s := RoundP99Ratios(runs, "keepalive", PeerRampart, PeerHAProxy)
		if l := roundByRound("keep-alive rampart / haproxy p99", p99s); l != "" {
			ok := 0
			for _, x := range p99s {
				if x <= 1 {
					ok++
				}
			}
			out = append(out, fmt.Sprintf("%s; no worse in %d of %d rounds", l, ok, len(p99s)))
		}
		if r.CPUPerReq > 0 && h.CPUPerReq > 0 {
			// Not a goal of its own, but the figure a shared machine disturbs
			// least: what each request costs the proxy.
			out = append(out, fmt.Sprintf("(for information) keep-alive CPU per request: %s vs HAProxy's %s (%.2fx)", human(r.CPUPerReq), human(h.CPUPerReq),
				float64(r.CPUPerReq)/float64(h.CPUPerReq)))
		}
		if c, ok := find("keepalive", PeerHAProxyControl); ok && c.RPS > 0 {
			out = append(out, controlLine("keepalive", PeerHAProxyControl, c, h, runs))
		}
		if r.IdleShare >= 0 && h.IdleShare >= 0 {
			// The machine is saturated by the load, so CPU left idle is
			// time requests waited for a process to be woken or moved to
			// the free CPU: latency that no CPU figure shows.
			out = append(out, fmt.Sprintf("(for information) keep-alive machine CPU left idle: %s with rampart vs %s with HAProxy",
				percent(r.IdleShare), percent(h.IdleShare)))
		}
	}
	t, ok1 := find("reencrypt", PeerRampart)
	e, ok2 := find("reencrypt", PeerRampartReencrypt)
	if ok1 && ok2 && t.RPS > 0 {
		cost := 1 - e.RPS/t.RPS
		// A hair of tolerance: 1 - 850/1000 is 0.15000000000000002 in
		// floating point, and 15.0% is within "at most 15%".
		out = append(out, fmt.Sprintf("reencrypt costs <= 15%% of terminate's req/s: %.1f%%, %s", cost*100, verdict(cost <= 0.15+1e-9)))
		if l := roundByRound("reencrypt / terminate req/s", RoundRatios(runs, "reencrypt", PeerRampartReencrypt, PeerRampart)); l != "" {
			out = append(out, l)
		}
		if c, ok := find("reencrypt", PeerRampartControl); ok && c.RPS > 0 {
			out = append(out, controlLine("reencrypt", PeerRampartControl, c, t, runs))
		}
	}
	off, ok1 := find("monitoring", PeerRampart)
	on, ok2 := find("monitoring", PeerRampartMonitored)
	if ok1 && ok2 && off.RPS > 0 {
		loss := 1 - on.RPS/off.RPS
		out = append(out, fmt.Sprintf("monitoring costs < 3%% of req/s: %.1f%% (%.0f vs %.0f req/s, ratio %.3f), %s",
			loss*100, on.RPS, off.RPS, on.RPS/off.RPS, verdict(loss < 0.03)))
		if on.CPUPerReq > 0 && off.CPUPerReq > 0 {
			// The figure that other work on the machine disturbs least:
			// what counting and being scraped add to each request. An lb
			// that has the cores to itself and runs out of them serves
			// cores / CPU per request, so this is also the loss it would see.
			out = append(out, fmt.Sprintf("(for information) monitoring's CPU per request: %s vs %s without (%+.1f%%), so a CPU-bound lb would serve %.1f%% fewer req/s; p99 %s vs %s",
				human(on.CPUPerReq), human(off.CPUPerReq), (float64(on.CPUPerReq)/float64(off.CPUPerReq)-1)*100,
				(1-float64(off.CPUPerReq)/float64(on.CPUPerReq))*100, human(on.P99), human(off.P99)))
		}
		if c, ok := find("monitoring", PeerRampartControl); ok && c.RPS > 0 {
			out = append(out, controlLine("monitoring", PeerRampartControl, c, off, runs))
		}
	}
	return out
}
