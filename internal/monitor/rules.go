package monitor

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/rampart-dev/rampart/internal/metrics"
	"github.com/rampart-dev/rampart/internal/topology"
)

// Rule is an alert rule. The collector evaluates it after every scrape
// round; Expr is the same rule in PromQL, for `rampart export prometheus`.
type Rule struct {
	Name     string
	Severity string // critical or warning
	// For is how long the condition must hold before the alert fires.
	For     time.Duration
	Summary string // what the alert means, for the person paged
	Expr    string
	// eval returns the instances for which the condition holds now.
	eval func(e *evaluation) []instance
}

// instance is one subject of a rule whose condition holds: its labels
// (always server, and what else tells instances apart) and the value.
type instance struct {
	labels map[string]string
	value  float64
}

// evaluation is the data a round's rules see: the store, and the slots of
// each window a rule looks back over.
type evaluation struct {
	r        reader
	interval time.Duration
}

// window returns the slots that cover the last d.
func (e *evaluation) window(d time.Duration) []int {
	return e.r.last(int(d/e.interval) + 1)
}

// Windows and thresholds of the built-in rules.
const (
	errorWindow       = time.Minute
	errorRatioLimit   = 0.05
	latencyWindow     = time.Minute
	latencyLimit      = 1.0 // seconds, p99
	ejectionWindow    = time.Minute
	certificateMargin = 14 * 24 * time.Hour
	restartWindow     = 5 * time.Minute
	restartLimit      = 2
)

// DownFor is the for-duration of the ServerDown rule: two rounds, so that
// one lost scrape never pages anyone.
func DownFor(interval time.Duration) time.Duration { return 2 * interval }

// DownAlertBound is the longest a server may be unreachable before its
// ServerDown alert fires: up to one interval until the next round, the
// scrape's timeout, the for-duration, and one more round to evaluate it.
func DownAlertBound(interval time.Duration) time.Duration {
	return interval + ScrapeTimeout(interval) + DownFor(interval) + interval
}

// ScrapeTimeout bounds one scrape: the interval, at most 10s.
func ScrapeTimeout(interval time.Duration) time.Duration { return min(interval, 10*time.Second) }

// Rules returns the built-in alert rules of a site scraped every interval.
func Rules(t *topology.Topology, interval time.Duration) []Rule {
	rules := []Rule{
		{
			Name: "ServerDown", Severity: "critical", For: DownFor(interval),
			Summary: "The collector cannot scrape the server's admin endpoint: the server is down or unreachable.",
			Expr:    `up{job="rampart"} == 0`,
			eval: func(e *evaluation) []instance {
				var out []instance
				idx := e.r.last(1)
				if len(idx) == 0 {
					return nil
				}
				for _, h := range e.r.s.servers {
					if !h.ok(idx[0]) {
						out = append(out, instance{labels: map[string]string{"server": h.name}, value: 0})
					}
				}
				return out
			},
		},
		{
			Name: "HighErrorRatio", Severity: "warning", For: time.Minute,
			Summary: fmt.Sprintf("More than %g%% of the requests a role answered in the last %s were server errors (5xx).", errorRatioLimit*100, errorWindow),
			Expr: fmt.Sprintf(`sum by (server, role) (rate(%s{code_class="5xx"}[%s])) / sum by (server, role) (rate(%s[%s])) > %g`,
				metrics.HTTPRequests, promDuration(errorWindow), metrics.HTTPRequests, promDuration(errorWindow), errorRatioLimit),
			eval: func(e *evaluation) []instance {
				return e.perRole(errorWindow, func(f Figures) (float64, bool) {
					return float64(f.ErrorRatio), f.ErrorRatio.Known() && float64(f.ErrorRatio) > errorRatioLimit
				})
			},
		},
		{
			Name: "HighLatency", Severity: "warning", For: 2 * time.Minute,
			Summary: fmt.Sprintf("The 99th percentile of a role's response time over the last %s is above %gs.", latencyWindow, latencyLimit),
			Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (server, role, le) (rate(%s_bucket[%s]))) > %g`,
				metrics.HTTPRequestDuration, promDuration(latencyWindow), latencyLimit),
			eval: func(e *evaluation) []instance {
				return e.perRole(latencyWindow, func(f Figures) (float64, bool) {
					return float64(f.P99), f.P99.Known() && float64(f.P99) > latencyLimit
				})
			},
		},
		{
			Name: "BackendDown", Severity: "warning", For: 2 * interval,
			Summary: "A server's health check of one of its backends fails; traffic goes to the others.",
			Expr:    metrics.BackendUp + ` == 0`,
			eval: func(e *evaluation) []instance {
				return e.gaugeWhere(metrics.BackendUp, []string{metrics.LabelService, metrics.LabelBackend},
					func(v float64) bool { return v == 0 })
			},
		},
		{
			Name: "BackendEjected", Severity: "warning", For: 0,
			Summary: fmt.Sprintf("A server took one of its backends out after a failed request in the last %s.", ejectionWindow),
			Expr:    fmt.Sprintf(`increase(%s[%s]) > 0`, metrics.BackendEjections, promDuration(ejectionWindow)),
			eval: func(e *evaluation) []instance {
				return e.counterIncrease(metrics.BackendEjections, ejectionWindow, []string{metrics.LabelService, metrics.LabelBackend}, 0)
			},
		},
		{
			Name: "CertificateExpiring", Severity: "warning", For: 5 * time.Minute,
			Summary: fmt.Sprintf("A certificate expires in less than %d days and has not been renewed.", int(certificateMargin.Hours()/24)),
			Expr:    fmt.Sprintf(`%s < %d`, metrics.CertExpiry, int(certificateMargin.Seconds())),
			eval: func(e *evaluation) []instance {
				return e.gaugeWhere(metrics.CertExpiry, []string{metrics.LabelCertificate},
					func(v float64) bool { return v < certificateMargin.Seconds() })
			},
		},
		{
			Name: "AppRestarting", Severity: "warning", For: 0,
			Summary: fmt.Sprintf("The application exited and was restarted more than %d times in %s.", restartLimit, restartWindow),
			Expr:    fmt.Sprintf(`increase(%s[%s]) > %d`, metrics.AppRestarts, promDuration(restartWindow), restartLimit),
			eval: func(e *evaluation) []instance {
				return e.counterIncrease(metrics.AppRestarts, restartWindow, nil, restartLimit)
			},
		},
		{
			Name: "DatabaseDown", Severity: "critical", For: 2 * interval,
			Summary: "The database server does not answer its server's monitoring client.",
			Expr:    metrics.DBUp + ` == 0`,
			eval: func(e *evaluation) []instance {
				return e.gaugeWhere(metrics.DBUp, nil, func(v float64) bool { return v == 0 })
			},
		},
		{
			Name: "DatabaseReplicationBroken", Severity: "critical", For: 30 * time.Second,
			Summary: "The database server is not replicating: its replica threads stopped, or its Galera node is not synced.",
			Expr:    metrics.DBReplicationHealthy + ` == 0`,
			eval: func(e *evaluation) []instance {
				return e.gaugeWhere(metrics.DBReplicationHealthy, nil, func(v float64) bool { return v == 0 })
			},
		},
	}
	if dbs := len(t.WithRole(topology.RoleDB)); dbs > 1 {
		rules = append(rules, Rule{
			Name: "DatabaseClusterDegraded", Severity: "warning", For: time.Minute,
			Summary: fmt.Sprintf("A database server sees fewer than the %d members of its cluster.", dbs),
			Expr:    fmt.Sprintf(`%s < %d`, metrics.DBClusterSize, dbs),
			eval: func(e *evaluation) []instance {
				return e.gaugeWhere(metrics.DBClusterSize, nil, func(v float64) bool { return v < float64(dbs) })
			},
		})
	}
	return rules
}

// perRole evaluates test on the figures of every (server, role) that
// answers HTTP, over window.
func (e *evaluation) perRole(window time.Duration, test func(Figures) (float64, bool)) []instance {
	idx := e.window(window)
	var out []instance
	for _, h := range e.r.s.servers {
		for _, role := range httpRoles {
			if !h.has(metrics.HTTPRequests, metrics.LabelRole, role) {
				continue
			}
			if v, ok := test(figures([]*history{h}, role, idx)); ok {
				out = append(out, instance{labels: map[string]string{"server": h.name, "role": role}, value: v})
			}
		}
	}
	return out
}

var httpRoles = []string{string(topology.RoleLB), string(topology.RoleWeb), string(topology.RoleApp)}

// has reports whether the server has a series called name with label=value.
func (h *history) has(name, label, value string) bool {
	for _, se := range h.series {
		if se.name == name && labelValue(se.labels, label) == value {
			return true
		}
	}
	return false
}

func labelValue(ls []Label, name string) string { return label(ls, name) }

// gaugeWhere returns an instance for each series of gauge name, in the
// latest round, whose value passes test; by names the labels that tell the
// instances apart.
func (e *evaluation) gaugeWhere(name string, by []string, test func(float64) bool) []instance {
	idx := e.r.last(1)
	if len(idx) == 0 {
		return nil
	}
	var out []instance
	for _, h := range e.r.s.servers {
		if !h.ok(idx[0]) {
			continue
		}
		for _, se := range h.series {
			if se.name != name {
				continue
			}
			if v := se.vals[idx[0]]; !math.IsNaN(v) && test(v) {
				out = append(out, instance{labels: labelsOf(h.name, se.labels, by), value: v})
			}
		}
	}
	return out
}

// counterIncrease returns an instance for each series of counter name that
// grew by more than limit over window.
func (e *evaluation) counterIncrease(name string, window time.Duration, by []string, limit float64) []instance {
	idx := e.window(window)
	var out []instance
	for _, h := range e.r.s.servers {
		at := h.times(idx)
		for _, se := range h.series {
			if se.name != name {
				continue
			}
			vals := make([]float64, len(idx))
			for i, slot := range idx {
				vals[i] = se.vals[slot]
				if math.IsNaN(vals[i]) && h.ok(slot) {
					vals[i] = 0 // created on first use
				}
			}
			if inc, _ := increaseOver(at, vals); inc > limit {
				out = append(out, instance{labels: labelsOf(h.name, se.labels, by), value: inc})
			}
		}
	}
	return out
}

func labelsOf(server string, ls []Label, by []string) map[string]string {
	out := map[string]string{"server": server}
	for _, b := range by {
		out[b] = label(ls, b)
	}
	return out
}

// promDuration writes d as a PromQL duration: "1m", "30s", "5m".
func promDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d%time.Second == 0:
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	return strconv.Itoa(int(d/time.Millisecond)) + "ms"
}
