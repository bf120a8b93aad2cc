package monitor

import (
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/metrics"
	"github.com/rampart-dev/rampart/internal/topology"
)

// rulesHarness evaluates the built-in rules of a small site after each
// round, one second apart.
type rulesHarness struct {
	t      *testing.T
	store  *Store
	alerts *Alerts
	rules  []Rule
	round  int
}

func newRulesHarness(t *testing.T) *rulesHarness {
	topo, err := topology.Preset("ha")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range topo.Servers {
		names = append(names, s.Name)
	}
	return &rulesHarness{t: t, store: NewStore(names, SlotsFor(time.Hour, time.Second), 0), alerts: NewAlerts(slog.New(slog.DiscardHandler)), rules: Rules(topo, time.Second)}
}

// step appends a round in which every ha server answers with samples, but
// those in down fail, and evaluates the rules.
func (h *rulesHarness) step(samples map[string][]Sample, down ...string) time.Time {
	at := t0.Add(time.Duration(h.round) * time.Second)
	h.round++
	var scrapes []Scrape
	for _, name := range []string{"lb-1", "lb-2", "app-1", "app-2", "db-1", "db-2", "db-3", "monitor-1"} {
		sc := Scrape{Server: name, At: at, Samples: samples[name]}
		for _, d := range down {
			if d == name {
				sc = lost(name, at)
			}
		}
		scrapes = append(scrapes, sc)
	}
	h.store.Append(at, scrapes)
	h.store.read(func(r reader) { h.alerts.evaluate(at, h.rules, &evaluation{r: r, interval: time.Second}) })
	return at
}

// state returns the state of rule's alert on server, or "" when there is
// none.
func (h *rulesHarness) state(rule, server string) string {
	for _, a := range h.alerts.Active() {
		if a.Rule == rule && a.Labels["server"] == server {
			return a.State
		}
	}
	return ""
}

func TestServerDownFiresAfterItsForAndResolves(t *testing.T) {
	h := newRulesHarness(t)
	for range 3 {
		h.step(nil)
	}
	want := []string{Pending, Pending, Firing, Firing}
	for i, w := range want {
		h.step(nil, "app-1")
		if got := h.state("ServerDown", "app-1"); got != w {
			t.Fatalf("round %d after app-1 went down: %q, want %q", i+1, got, w)
		}
	}
	if got := h.state("ServerDown", "app-2"); got != "" {
		t.Errorf("app-2, which answers, has a ServerDown alert: %q", got)
	}
	ended := h.step(nil)
	if got := h.state("ServerDown", "app-1"); got != "" {
		t.Fatalf("after app-1 answered again the alert is %q, want resolved", got)
	}
	res := h.alerts.Resolved()
	if len(res) != 1 || res[0].Rule != "ServerDown" || !res[0].Ended.Equal(ended) {
		t.Fatalf("resolved alerts: %+v", res)
	}
	if fired := res[0].Fired.Sub(res[0].Since); fired != DownFor(time.Second) {
		t.Errorf("fired %s after it began, want the rule's For of %s", fired, DownFor(time.Second))
	}
}

func TestOneLostScrapeNeverFires(t *testing.T) {
	h := newRulesHarness(t)
	h.step(nil)
	h.step(nil, "db-2")
	h.step(nil)
	h.step(nil, "db-2")
	h.step(nil)
	if len(h.alerts.Resolved()) != 0 {
		t.Errorf("a flapping scrape fired: %+v", h.alerts.Resolved())
	}
}

func TestErrorRatioFiresAfterAMinuteOfErrors(t *testing.T) {
	h := newRulesHarness(t)
	var ok, bad float64
	sample := func() map[string][]Sample {
		return map[string][]Sample{"lb-1": {
			{Name: metrics.HTTPRequests, Labels: []Label{{"code_class", "2xx"}, {"method", "GET"}, {"role", "lb"}}, Value: ok},
			{Name: metrics.HTTPRequests, Labels: []Label{{"code_class", "5xx"}, {"method", "GET"}, {"role", "lb"}}, Value: bad},
		}}
	}
	h.step(sample())
	var firedAt int
	for i := 1; i <= 90; i++ {
		ok += 90
		bad += 10 // 10% errors
		h.step(sample())
		if firedAt == 0 && h.state("HighErrorRatio", "lb-1") == Firing {
			firedAt = i
		}
	}
	if firedAt < 60 || firedAt > 62 {
		t.Fatalf("HighErrorRatio fired in round %d; want a minute after the errors began", firedAt)
	}
	for range 62 {
		ok += 100
		h.step(sample())
	}
	if got := h.state("HighErrorRatio", "lb-1"); got != "" {
		t.Errorf("a minute without errors, the alert is still %q", got)
	}
}

func TestBackendEjectedFiresAtOnceAndLastsItsWindow(t *testing.T) {
	h := newRulesHarness(t)
	ejections := 0.0
	sample := func() map[string][]Sample {
		return map[string][]Sample{"lb-1": {
			{Name: metrics.BackendEjections, Labels: []Label{{"backend", "app-2"}, {"service", "web"}}, Value: ejections},
			{Name: metrics.BackendUp, Labels: []Label{{"backend", "app-2"}, {"service", "web"}}, Value: 1},
		}}
	}
	h.step(sample())
	ejections = 1
	h.step(sample())
	if got := h.state("BackendEjected", "lb-1"); got != Firing {
		t.Fatalf("after an ejection: %q, want firing at once", got)
	}
	for range 61 {
		h.step(sample())
	}
	if got := h.state("BackendEjected", "lb-1"); got != "" {
		t.Errorf("a minute after the ejection: %q, want resolved", got)
	}
}

func TestCertificateExpiringAndBackendDown(t *testing.T) {
	h := newRulesHarness(t)
	soon := (10 * 24 * time.Hour).Seconds()
	s := map[string][]Sample{"app-1": {
		{Name: metrics.CertExpiry, Labels: []Label{{"certificate", "server"}}, Value: soon},
		{Name: metrics.CertExpiry, Labels: []Label{{"certificate", "client"}}, Value: 80 * 86400},
		{Name: metrics.BackendUp, Labels: []Label{{"backend", "app-2"}, {"service", "app"}}, Value: 0},
	}}
	for range 301 {
		h.step(s)
	}
	var got []string
	for _, a := range h.alerts.Active() {
		got = append(got, fmt.Sprintf("%s/%s/%s", a.Rule, a.State, a.Labels["certificate"]+a.Labels["backend"]))
	}
	want := "[BackendDown/firing/app-2 CertificateExpiring/firing/server]"
	if fmt.Sprint(got) != want {
		t.Errorf("alerts %v, want %s", got, want)
	}
}

func TestRulesAreValidPromQLDurations(t *testing.T) {
	topo, _ := topology.Preset("ha")
	for _, r := range Rules(topo, 5*time.Second) {
		if r.Expr == "" || r.Summary == "" || (r.Severity != "critical" && r.Severity != "warning") {
			t.Errorf("rule %s is incomplete: %+v", r.Name, r)
		}
	}
	for d, want := range map[time.Duration]string{time.Minute: "1m", 90 * time.Second: "90s", time.Hour: "1h", 1500 * time.Millisecond: "1500ms"} {
		if got := promDuration(d); got != want {
			t.Errorf("%s -> %s, want %s", d, got, want)
		}
	}
	_ = math.NaN
}
