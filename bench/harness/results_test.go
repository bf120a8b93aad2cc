package harness

import (
	"encoding/csv"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// sample is one run of 1000 requests; HAProxy spends 50us of CPU on each,
// everyone else 100us.
func sample(round int, scenario, peer string, rps float64, p99ms int) Sample {
	cpu := 100 * time.Millisecond
	if peer == PeerHAProxy {
		cpu = 50 * time.Millisecond
	}
	return Sample{Round: round, Scenario: scenario, Peer: peer,
		Measurement: Measurement{Requests: 1000, RPS: rps, P50: time.Millisecond, P99: time.Duration(p99ms) * time.Millisecond, CPU: cpu}}
}

var testScenarios = []Scenario{
	{Name: "keepalive", Title: "keep-alive", Peers: []string{PeerHAProxy, PeerRampart}, Base: PeerRampart},
	{Name: "reencrypt", Title: "reencrypt", Peers: []string{PeerRampart, PeerRampartReencrypt}, Base: PeerRampartReencrypt},
}

var testSamples = []Sample{
	sample(1, "keepalive", PeerHAProxy, 1000, 5),
	sample(2, "keepalive", PeerHAProxy, 3000, 9), // a disturbed round
	sample(3, "keepalive", PeerHAProxy, 1100, 6),
	sample(1, "keepalive", PeerRampart, 1200, 4),
	sample(2, "keepalive", PeerRampart, 900, 4),
	sample(3, "keepalive", PeerRampart, 1300, 5),
	sample(1, "reencrypt", PeerRampart, 1000, 4),
	sample(1, "reencrypt", PeerRampartReencrypt, 900, 4),
}

func TestSummarizeTakesTheMedianSoOneDisturbedRoundDoesNotCount(t *testing.T) {
	sums := Summarize(testScenarios, testSamples)
	if len(sums) != 4 {
		t.Fatalf("%d summaries, want 4: %+v", len(sums), sums)
	}
	if h := sums[0]; h.Peer != PeerHAProxy || h.RPS != 1100 || h.P99 != 6*time.Millisecond || h.Runs != 3 || h.CPUPerReq != 50*time.Microsecond {
		t.Errorf("haproxy summary %+v, want median 1100 req/s, p99 6ms, 50us CPU per request over 3 runs", h)
	}
	if r := sums[1]; r.RPS != 1200 {
		t.Errorf("rampart median %v, want 1200", r.RPS)
	}
}

func TestRatiosAndGoalsCompareTheBaseWithEachPeer(t *testing.T) {
	sums := Summarize(testScenarios, testSamples)
	ratios := Ratios(testScenarios, sums)
	if len(ratios) != 2 {
		t.Fatalf("ratios %+v, want 2", ratios)
	}
	if r := ratios[0]; r.Base != PeerRampart || r.Peer != PeerHAProxy || r.RPS < 1.09 || r.RPS > 1.10 {
		t.Errorf("keep-alive ratio %+v, want rampart/haproxy = 1200/1100", r)
	}
	if r := ratios[1]; r.Base != PeerRampartReencrypt || r.RPS != 0.9 {
		t.Errorf("reencrypt ratio %+v, want 0.9", r)
	}
	goals := strings.Join(Goals(sums, testSamples), "\n")
	for _, want := range []string{"1.09x, met", "4.00ms vs 6.00ms, met", "100us vs HAProxy's 50us (2.00x)", "10.0%, met",
		"round by round: 1.20, 0.30, 1.18 (0.30 to 1.20, median 1.18)",
		"p99 round by round: 0.80, 0.44, 0.83 (0.44 to 0.83, median 0.80); no worse in 3 of 3 rounds"} {
		if !strings.Contains(goals, want) {
			t.Errorf("goals lack %q:\n%s", want, goals)
		}
	}
}

func TestGoalsShowTheControlBesideHAProxy(t *testing.T) {
	scenarios := []Scenario{{Name: "keepalive", Title: "keep-alive", Peers: []string{PeerHAProxy, PeerHAProxyControl, PeerRampart}, Base: PeerRampart}}
	runs := append([]Sample{
		sample(1, "keepalive", PeerHAProxyControl, 1050, 6),
		sample(2, "keepalive", PeerHAProxyControl, 2700, 9),
		sample(3, "keepalive", PeerHAProxyControl, 1000, 5),
	}, testSamples[:6]...)
	goals := strings.Join(Goals(Summarize(scenarios, runs), runs), "\n")
	// Medians: control 1050 req/s, p99 6ms; HAProxy 1100, 6ms. Rounds:
	// 1050/1000, 2700/3000, 1000/1100 and 6/5, 9/9, 5/6.
	want := "noise in keepalive: a second, identical HAProxy / HAProxy: req/s 0.95x, p99 6.00ms vs 6.00ms (1.00x); round by round req/s 0.90 to 1.05, p99 0.83 to 1.20"
	if !strings.Contains(goals, want) {
		t.Errorf("goals lack %q:\n%s", want, goals)
	}
	mon := []Scenario{{Name: "monitoring", Title: "monitoring", Peers: []string{PeerRampart, PeerRampartControl, PeerRampartMonitored}, Base: PeerRampartMonitored}}
	mruns := []Sample{
		sample(1, "monitoring", PeerRampart, 1000, 4), sample(1, "monitoring", PeerRampartControl, 960, 5), sample(1, "monitoring", PeerRampartMonitored, 990, 4),
		sample(2, "monitoring", PeerRampart, 1000, 4), sample(2, "monitoring", PeerRampartControl, 1030, 4), sample(2, "monitoring", PeerRampartMonitored, 980, 4),
	}
	mg := strings.Join(Goals(Summarize(mon, mruns), mruns), "\n")
	// Medians: the twin 995 req/s and p99 4.5ms against 1000 and 4ms.
	if want := "noise in monitoring: a second, identical rampart / rampart: req/s 0.99x, p99 4.50ms vs 4.00ms (1.12x); round by round req/s 0.96 to 1.03, p99 1.00 to 1.25"; !strings.Contains(mg, want) {
		t.Errorf("monitoring goals lack %q:\n%s", want, mg)
	}
	if g := strings.Join(Goals(Summarize(testScenarios, testSamples), testSamples), "\n"); strings.Contains(g, "noise") {
		t.Errorf("a run without the control has a noise line:\n%s", g)
	}
}

func TestEachTwinJoinsTheScenariosOfItsOriginal(t *testing.T) {
	o := Options{Duration: time.Second, Rounds: 1, Threads: 1, Connections: 1, HandshakeClients: 1, Peers: []string{PeerHAProxyControl}, Control: true}
	if err := o.check(); err == nil || !strings.Contains(err.Error(), "unknown peer") {
		t.Errorf("a twin named as a peer: error %v", err)
	}
	o.Peers = []string{PeerNginx}
	if c := o.candidates(); slices.Contains(c, PeerHAProxyControl) || !slices.Contains(c, PeerRampartControl) {
		t.Errorf("without haproxy, candidates %v: want rampart's twin and not HAProxy's", c)
	}
	o.Peers = []string{PeerHAProxy}
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	enabled := map[string]bool{}
	for _, p := range o.candidates() {
		enabled[p] = true
	}
	got, err := selectScenarios(nil, enabled)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range got {
		if has := slices.Contains(s.Peers, PeerHAProxyControl); has != (s.Name == "keepalive") {
			t.Errorf("scenario %s peers %v: HAProxy's twin belongs to keep-alive alone", s.Name, s.Peers)
		}
		if has := slices.Contains(s.Peers, PeerRampartControl); has != (s.Name == "reencrypt" || s.Name == "monitoring") {
			t.Errorf("scenario %s peers %v: rampart's twin belongs to reencrypt and monitoring", s.Name, s.Peers)
		}
	}
	o.Control = false
	for _, c := range controlPeers {
		if slices.Contains(o.candidates(), c) {
			t.Errorf("candidates without --control: %v", o.candidates())
		}
	}
}

func TestRoundRatiosPairRunsOfTheSameRound(t *testing.T) {
	runs := []Sample{
		sample(2, "keepalive", PeerRampart, 900, 4),
		sample(1, "keepalive", PeerHAProxy, 1000, 5),
		sample(3, "keepalive", PeerHAProxy, 1100, 6), // rampart did not run in round 3
		sample(1, "keepalive", PeerRampart, 1200, 4),
		sample(2, "keepalive", PeerHAProxy, 3000, 9),
		sample(1, "reencrypt", PeerRampart, 5000, 4), // another scenario
	}
	got := RoundRatios(runs, "keepalive", PeerRampart, PeerHAProxy)
	if len(got) != 2 || got[0] != 1.2 || got[1] != 0.3 {
		t.Fatalf("RoundRatios = %v, want [1.2 0.3]: round 1 then round 2, round 3 left out", got)
	}
	if p := RoundP99Ratios(runs, "keepalive", PeerRampart, PeerHAProxy); len(p) != 2 || math.Abs(p[0]-0.8) > 1e-9 || math.Abs(p[1]-4.0/9) > 1e-9 {
		t.Errorf("RoundP99Ratios = %v, want [0.8 0.444]: 4ms/5ms, then 4ms/9ms", p)
	}
	if l := roundByRound("x", got[:1]); l != "" {
		t.Errorf("one round made a line: %q", l)
	}
}

func TestReportFilesHoldEveryRunAndTheMedians(t *testing.T) {
	dir := t.TempDir()
	sums := Summarize(testScenarios, testSamples)
	runsCSV, sumCSV := filepath.Join(dir, "runs.csv"), filepath.Join(dir, "summary.csv")
	if err := WriteRunsCSV(runsCSV, testSamples); err != nil {
		t.Fatal(err)
	}
	if err := WriteSummaryCSV(sumCSV, testScenarios, sums); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, runsCSV)
	if len(rows) != 1+len(testSamples) || rows[0][5] != "req_per_s" || rows[1][10] != "50.0" {
		t.Errorf("runs.csv has %d rows (header %q), want %d", len(rows), rows[0], 1+len(testSamples))
	}
	// The ratio sits on the compared peer's row: haproxy's carries
	// rampart/haproxy, the base's own row none.
	rows = readCSV(t, sumCSV)
	if len(rows) != 5 {
		t.Fatalf("summary.csv rows %q, want a header and 4", rows)
	}
	if h := rows[1]; h[1] != PeerHAProxy || h[3] != "1100.0" || h[7] != "50.0" || h[8] != PeerRampart || h[9] != "1.091" {
		t.Errorf("haproxy row %q, want median 1100.0, 50.0us CPU per request and rampart's ratio 1.091", h)
	}
	if r := rows[2]; r[1] != PeerRampart || r[8] != "" || r[9] != "" {
		t.Errorf("rampart row %q, want no ratio", r)
	}

	var md strings.Builder
	WriteTable(&md, testScenarios, sums, true)
	if !strings.Contains(md.String(), "| keep-alive") || !strings.Contains(md.String(), "rampart / haproxy") {
		t.Errorf("markdown table:\n%s", md.String())
	}

	script := ChartScript(filepath.Join(dir, "chart.png"), "test", testScenarios, sums)
	if n := strings.Count(script, "\nplot "); n != 4 {
		t.Errorf("chart has %d panels, want 4 (two scenarios, p99 and CPU):\n%s", n, script)
	}
	gnuplot, err := exec.LookPath("gnuplot")
	if err != nil {
		t.Skip("gnuplot is not installed (bench/run installs gnuplot-nox)")
	}
	png := filepath.Join(dir, "chart.png")
	if err := DrawChart(gnuplot, filepath.Join(dir, "chart.gp"), png, "test", testScenarios, sums); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(png); err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
		t.Errorf("chart.png is not a PNG (%v)", err)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestScenariosRotateAndRejectUnknownNames(t *testing.T) {
	if got := strings.Join(rotate([]string{"a", "b", "c"}, 4), ","); got != "b,c,a" {
		t.Errorf("rotate by 4 = %s, want b,c,a", got)
	}
	enabled := map[string]bool{PeerNginx: true, PeerRampart: true, PeerRampartReencrypt: true}
	got, err := selectScenarios([]string{"keepalive", "reencrypt"}, enabled)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || strings.Join(got[0].Peers, ",") != "nginx,rampart" || got[1].Name != "reencrypt" {
		t.Errorf("selected %+v, want keepalive over nginx and rampart, then reencrypt", got)
	}
	if _, err := selectScenarios([]string{"keepalive", "nope"}, enabled); err == nil || !strings.Contains(err.Error(), `nope`) {
		t.Errorf("unknown scenario: error %v", err)
	}
}

func TestMonitoringGoalIsUnderThreePercentOfTheUnmonitoredLB(t *testing.T) {
	scenarios := []Scenario{{Name: "monitoring", Title: "monitoring", Peers: []string{PeerRampart, PeerRampartMonitored}, Base: PeerRampartMonitored}}
	for _, c := range []struct {
		on   float64
		want string
	}{
		{985, "1.5% (985 vs 1000 req/s, ratio 0.985), met"},
		{970, "3.0% (970 vs 1000 req/s, ratio 0.970), NOT met"},
		{1010, "-1.0% (1010 vs 1000 req/s, ratio 1.010), met"},
	} {
		sums := Summarize(scenarios, []Sample{
			sample(1, "monitoring", PeerRampart, 1000, 5),
			sample(1, "monitoring", PeerRampartMonitored, c.on, 5),
		})
		goals := strings.Join(Goals(sums, nil), "\n")
		if !strings.Contains(goals, "monitoring costs < 3% of req/s: "+c.want) {
			t.Errorf("at %v req/s monitored, goals:\n%s\nwant %q", c.on, goals, c.want)
		}
		if !strings.Contains(goals, "monitoring's CPU per request: 100us vs 100us without (+0.0%), so a CPU-bound lb would serve 0.0% fewer req/s") {
			t.Errorf("goals lack the CPU per request line:\n%s", goals)
		}
	}
}

func TestMonitoringCPUPerRequestGivesTheCPUBoundLoss(t *testing.T) {
	scenarios := []Scenario{{Name: "monitoring", Title: "monitoring", Peers: []string{PeerRampart, PeerRampartMonitored}, Base: PeerRampartMonitored}}
	on := sample(1, "monitoring", PeerRampartMonitored, 1000, 5)
	on.CPU = 125 * time.Millisecond // 125us per request against 100us
	goals := strings.Join(Goals(Summarize(scenarios, []Sample{sample(1, "monitoring", PeerRampart, 1000, 5), on}), nil), "\n")
	if want := "125us vs 100us without (+25.0%), so a CPU-bound lb would serve 20.0% fewer req/s"; !strings.Contains(goals, want) {
		t.Errorf("goals:\n%s\nwant %q", goals, want)
	}
}

func TestKeepAliveGoalsReportTheMachineIdleMedian(t *testing.T) {
	withIdle := func(s Sample, idleMs int) Sample {
		s.MachineIdle = time.Duration(idleMs) * time.Millisecond
		s.MachineBusy = time.Second - s.MachineIdle
		return s
	}
	runs := []Sample{
		withIdle(sample(1, "keepalive", PeerHAProxy, 1000, 5), 10),
		withIdle(sample(1, "keepalive", PeerRampart, 1000, 5), 40),
		withIdle(sample(2, "keepalive", PeerHAProxy, 1000, 5), 5),
		withIdle(sample(2, "keepalive", PeerRampart, 1000, 5), 30),
		withIdle(sample(3, "keepalive", PeerHAProxy, 1000, 5), 7),
		sample(3, "keepalive", PeerRampart, 1000, 5), // no /proc/stat: left out of the median
	}
	sums := Summarize(testScenarios[:1], runs)
	if sums[0].IdleShare != 0.007 || sums[1].IdleShare != 0.035 {
		t.Errorf("idle shares %v and %v, want the medians 0.007 and 0.035", sums[0].IdleShare, sums[1].IdleShare)
	}
	goals := strings.Join(Goals(sums, runs), "\n")
	if !strings.Contains(goals, "machine CPU left idle: 3.5% with rampart vs 0.7% with HAProxy") {
		t.Errorf("goals lack the idle line:\n%s", goals)
	}
	if got := Summarize(testScenarios[:1], testSamples)[0].IdleShare; got != -1 {
		t.Errorf("idle share without /proc/stat = %v, want -1 (unknown)", got)
	}
	if goals := strings.Join(Goals(Summarize(testScenarios[:1], testSamples), testSamples), "\n"); strings.Contains(goals, "left idle") {
		t.Errorf("an unknown idle share was reported:\n%s", goals)
	}
}

func TestReencryptGoalShowsItsRounds(t *testing.T) {
	scenarios := testScenarios[1:]
	runs := []Sample{
		sample(1, "reencrypt", PeerRampart, 1000, 4), sample(1, "reencrypt", PeerRampartReencrypt, 940, 4),
		sample(2, "reencrypt", PeerRampart, 1000, 4), sample(2, "reencrypt", PeerRampartReencrypt, 760, 4),
		sample(3, "reencrypt", PeerRampart, 1000, 4), sample(3, "reencrypt", PeerRampartReencrypt, 850, 4),
	}
	goals := strings.Join(Goals(Summarize(scenarios, runs), runs), "\n")
	for _, want := range []string{"reencrypt costs <= 15% of terminate's req/s: 15.0%, met",
		"reencrypt / terminate req/s round by round: 0.94, 0.76, 0.85 (0.76 to 0.94, median 0.85)"} {
		if !strings.Contains(goals, want) {
			t.Errorf("goals lack %q:\n%s", want, goals)
		}
	}
}
