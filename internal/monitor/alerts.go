package monitor

import (
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Alert states.
const (
	Pending  = "pending"  // the condition holds, for less than the rule's For
	Firing   = "firing"   // it has held for at least For
	Resolved = "resolved" // it fired and no longer holds
)

// Alert is one instance of a rule: the rule applied to one server (and
// backend, certificate...).
type Alert struct {
	Rule     string            `json:"rule"`
	Severity string            `json:"severity"`
	Labels   map[string]string `json:"labels"`
	State    string            `json:"state"`
	Summary  string            `json:"summary"`
	Value    Num               `json:"value"`
	// Since is when the condition began to hold; Fired when the alert
	// fired; Ended when it resolved.
	Since time.Time  `json:"since"`
	Fired *time.Time `json:"fired,omitempty"`
	Ended *time.Time `json:"ended,omitempty"`
}

func (a *Alert) key() string { return a.Rule + "|" + labelKey(a.Labels) }

func labelKey(ls map[string]string) string {
	keys := slices.Sorted(maps.Keys(ls))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + ls[k] + ",")
	}
	return b.String()
}

// resolvedKept is how many resolved alerts the dashboard can list.
const resolvedKept = 50

// Alerts tracks the state of every alert across evaluations. It is safe
// for concurrent use: the scrape loop evaluates, the dashboard reads.
type Alerts struct {
	log *slog.Logger

	mu       sync.Mutex
	active   map[string]*Alert
	resolved []Alert // most recent last
}

// NewAlerts returns an empty alert state.
func NewAlerts(log *slog.Logger) *Alerts {
	if log == nil {
		log = slog.Default()
	}
	return &Alerts{log: log, active: map[string]*Alert{}}
}

// evaluate applies the rules to the round that ended at now: a condition
// that begins is pending; one that has held for its rule's For fires; a
// firing alert whose condition no longer holds is resolved, and a pending
// one is forgotten.
func (a *Alerts) evaluate(now time.Time, rules []Rule, e *evaluation) {
	held := map[string]bool{}
	var found []*Alert
	for _, r := range rules {
		for _, in := range r.eval(e) {
			al := &Alert{Rule: r.Name, Severity: r.Severity, Labels: in.labels, Summary: r.Summary, Value: Num(in.value)}
			found = append(found, al)
			held[al.key()] = true
		}
	}
	forOf := map[string]time.Duration{}
	for _, r := range rules {
		forOf[r.Name] = r.For
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, al := range found {
		k := al.key()
		cur := a.active[k]
		if cur == nil {
			al.State, al.Since = Pending, now
			a.active[k] = al
			cur = al
		}
		cur.Value = al.Value
		if cur.State == Pending && now.Sub(cur.Since) >= forOf[cur.Rule] {
			cur.State = Firing
			t := now
			cur.Fired = &t
			a.log.Warn("alert firing", "alert", cur.Rule, "labels", labelKey(cur.Labels), "since", cur.Since.Format(time.RFC3339))
		}
	}
	for k, cur := range a.active {
		if held[k] {
			continue
		}
		delete(a.active, k)
		if cur.State != Firing {
			continue
		}
		t := now
		cur.State, cur.Ended = Resolved, &t
		a.log.Info("alert resolved", "alert", cur.Rule, "labels", labelKey(cur.Labels), "fired", cur.Fired.Format(time.RFC3339))
		a.resolved = append(a.resolved, *cur)
		if len(a.resolved) > resolvedKept {
			a.resolved = a.resolved[len(a.resolved)-resolvedKept:]
		}
	}
}

// Active returns the pending and firing alerts, firing and critical first.
func (a *Alerts) Active() []Alert {
	a.mu.Lock()
	out := make([]Alert, 0, len(a.active))
	for _, al := range a.active {
		out = append(out, *al)
	}
	a.mu.Unlock()
	rank := func(al Alert) int {
		r := 0
		if al.State != Firing {
			r += 2
		}
		if al.Severity != "critical" {
			r++
		}
		return r
	}
	sort.Slice(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].key() < out[j].key()
	})
	return out
}

// Resolved returns the alerts that resolved recently, newest first.
func (a *Alerts) Resolved() []Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := slices.Clone(a.resolved)
	slices.Reverse(out)
	return out
}

// Firing counts the firing alerts.
func (a *Alerts) Firing() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, al := range a.active {
		if al.State == Firing {
			n++
		}
	}
	return n
}
