package harness

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"unicode/utf8"
)

// peerColors keeps each peer's colour the same in every panel.
var peerColors = map[string]int{
	PeerHAProxy:          0x1f77b4,
	PeerHAProxyControl:   0x7fb2d9,
	PeerNginx:            0x2ca02c,
	PeerCaddy:            0x9467bd,
	PeerRampart:          0xd62728,
	PeerRampartControl:   0xeb9393,
	PeerRampartReencrypt: 0xff7f0e,
	PeerRampartMonitored: 0x8c564b,
}

// ChartScript returns a gnuplot script that draws one bar panel of median
// req/s per scenario, and for keep-alive one of p99 latency and one of the
// proxy's CPU time per request, into png.
func ChartScript(png, subtitle string, scenarios []Scenario, sums []Summary) string {
	var b strings.Builder
	panels := 0
	for _, s := range scenarios {
		if len(rowsOf(s.Name, sums)) > 0 {
			panels++
		}
	}
	keep := rowsOf("keepalive", sums)
	if len(keep) > 0 {
		panels += 2 // p99 and CPU per request
	}
	cols := min(3, max(panels, 1))
	rows := (panels + cols - 1) / cols
	// The title's font fits about one character per 9 pixels of width;
	// longer subtitles are wrapped rather than cut at the image's edges.
	sub := wrap(subtitle, 500*cols/9)
	extra := 22 * strings.Count(sub, "\n")
	fmt.Fprintf(&b, `set terminal pngcairo size %d,%d font "sans,10"
set output %q
set multiplot layout %d,%d title %q font "sans,13"
set style fill solid 0.85 border -1
set boxwidth 0.65
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set grid ytics
unset key
set xtics nomirror scale 0 font "sans,9"
`, 500*cols, 420*rows+40+extra, png, rows, cols, chartTitle(sums)+" (medians over rounds)\n"+sub)
	i := 0
	bars := func(title, ylabel string, data []string, format string) {
		fmt.Fprintf(&b, "$d%d << EOD\n%sEOD\n", i, strings.Join(data, ""))
		fmt.Fprintf(&b, "set title %q\nset ylabel %q\nset xrange [-0.6:%f]\n", title, ylabel, float64(len(data))-0.4)
		fmt.Fprintf(&b, "plot $d%[1]d using 0:2:3:xtic(1) with boxes lc rgb variable, $d%[1]d using 0:2:(sprintf(%[2]q, $2)) with labels offset 0,0.8\n", i, format)
		i++
	}
	for _, s := range scenarios {
		var data []string
		for _, r := range rowsOf(s.Name, sums) {
			data = append(data, fmt.Sprintf("%q %.1f %d\n", r.Peer, r.RPS, peerColors[r.Peer]))
		}
		if len(data) > 0 {
			bars(s.Title, "requests/s", data, "%.0f")
		}
	}
	if len(keep) > 0 {
		var data []string
		for _, r := range keep {
			data = append(data, fmt.Sprintf("%q %.3f %d\n", r.Peer, float64(r.P99)/1e6, peerColors[r.Peer]))
		}
		bars("p99 latency, HTTPS keep-alive (lower is better)", "milliseconds", data, "%.2f")
		data = nil
		for _, r := range keep {
			data = append(data, fmt.Sprintf("%q %.1f %d\n", r.Peer, float64(r.CPUPerReq)/1e3, peerColors[r.Peer]))
		}
		bars("proxy CPU per request, HTTPS keep-alive (lower is better)", "microseconds", data, "%.0f")
	}
	b.WriteString("unset multiplot\n")
	return b.String()
}

// peerTitles are the third parties' names as their projects write them.
var peerTitles = map[string]string{PeerHAProxy: "HAProxy", PeerNginx: "nginx", PeerCaddy: "Caddy"}

// chartTitle names the third parties that ran, in report order.
func chartTitle(sums []Summary) string {
	var names []string
	for _, p := range ThirdParty {
		if slices.ContainsFunc(sums, func(s Summary) bool { return s.Peer == p }) {
			names = append(names, peerTitles[p])
		}
	}
	if len(names) == 0 {
		return "rampart lb"
	}
	return "rampart lb vs " + strings.Join(names, ", ")
}

// wrap breaks s into lines of at most width characters, after a comma or
// semicolon where it can, and at the width where it cannot.
func wrap(s string, width int) string {
	if width < 2 {
		return s
	}
	var lines []string
	for len(s) > width {
		cut := strings.LastIndexAny(s[:width], ",;")
		if cut < 1 {
			// No comma: cut at the width, but never inside a character.
			cut = width - 1
			for cut > 0 && !utf8.RuneStart(s[cut+1]) {
				cut--
			}
			if cut == 0 { // narrower than the first character: take it whole
				_, size := utf8.DecodeRuneInString(s)
				cut = size - 1
			}
		}
		lines = append(lines, strings.TrimSpace(s[:cut+1]))
		s = strings.TrimSpace(s[cut+1:])
	}
	if s != "" || len(lines) == 0 {
		lines = append(lines, s)
	}
	return strings.Join(lines, "\n")
}

func rowsOf(scenario string, sums []Summary) []Summary {
	var out []Summary
	for _, s := range sums {
		if s.Scenario == scenario {
			out = append(out, s)
		}
	}
	return out
}

// DrawChart writes the script to script and runs gnuplot on it.
func DrawChart(gnuplot, script, png, subtitle string, scenarios []Scenario, sums []Summary) error {
	if err := os.WriteFile(script, []byte(ChartScript(png, subtitle, scenarios, sums)), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command(gnuplot, script).CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot %s: %w: %s", script, err, lastLine(out))
	}
	return nil
}
