package harness

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestChartWrapsALongSubtitleInsteadOfCuttingIt(t *testing.T) {
	meta := "3 round(s) x 10s, wrk -t2 -c64; AMD EPYC, 2 CPUs, Debian GNU/Linux 12 (bookworm), Linux 6.18.44, go1.26.8, load average 6.56 at start, 24 GiB RAM, backends: rampart-bench backend (Go net/http)"
	got := wrap(meta, 80)
	lines := strings.Split(got, "\n")
	if len(lines) < 3 {
		t.Fatalf("wrap at 80 gave %d lines: %q", len(lines), got)
	}
	for _, l := range lines {
		if len(l) > 80 {
			t.Errorf("line of %d characters: %q", len(l), l)
		}
		if !strings.HasSuffix(l, ",") && !strings.HasSuffix(l, ";") && l != lines[len(lines)-1] {
			t.Errorf("line not broken after a comma or semicolon: %q", l)
		}
	}
	if strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(meta), " ") {
		t.Errorf("wrapping changed the words:\n%q\n%q", meta, got)
	}
	if w := wrap("short", 80); w != "short" {
		t.Errorf("wrap(short) = %q", w)
	}
	if w := wrap(strings.Repeat("x", 25), 10); w != "xxxxxxxxxx\nxxxxxxxxxx\nxxxxx" {
		t.Errorf("a line with nowhere to break: %q", w)
	}
	if w := wrap(strings.Repeat("é", 40), 55); !utf8.ValidString(w) || strings.ReplaceAll(w, "\n", "") != strings.Repeat("é", 40) {
		t.Errorf("a cut inside a character: %q", w)
	}
	if w := wrap("😀😀", 2); w != "😀\n😀" {
		t.Errorf("characters wider than the width: %q", w)
	}
	for _, width := range []int{-1, 0, 1} {
		if w := wrap(meta, width); w != meta {
			t.Errorf("wrap at %d = %q, want the subtitle unchanged", width, w)
		}
	}

	sums := Summarize(testScenarios, testSamples)
	short, long := ChartScript("c.png", "test", testScenarios, sums), ChartScript("c.png", meta+", "+meta, testScenarios, sums)
	if !strings.Contains(long, `\n`) || strings.Contains(long, meta) {
		t.Errorf("the long subtitle is not wrapped in the script:\n%s", long)
	}
	if firstLine(long) == firstLine(short) {
		t.Errorf("a wrapped subtitle left the image as tall as before: %s", firstLine(long))
	}
}

func TestChartTitleNamesTheThirdPartiesThatRan(t *testing.T) {
	sums := Summarize(testScenarios, testSamples)
	if got := chartTitle(sums); got != "rampart lb vs HAProxy" {
		t.Errorf("title %q, want rampart lb vs HAProxy", got)
	}
	sums = append(sums, Summary{Scenario: "keepalive", Peer: PeerCaddy}, Summary{Scenario: "keepalive", Peer: PeerNginx})
	if got := chartTitle(sums); got != "rampart lb vs HAProxy, nginx, Caddy" {
		t.Errorf("title %q, want all three in report order", got)
	}
	if got := chartTitle(nil); got != "rampart lb" {
		t.Errorf("title with no third party %q", got)
	}
}

func firstLine(s string) string { return s[:strings.IndexByte(s, '\n')] }
