package monitor

import (
	"math"
	"slices"
	"time"

	"github.com/rampart-dev/rampart/internal/metrics"
	"github.com/rampart-dev/rampart/internal/topology"
)

// State is what the dashboard and `rampart status` show: the site's
// figures now, per tier, per server and per flow, and the alerts.
type State struct {
	Now time.Time `json:"now"`
	// Interval is the scrape interval and Window the span the figures are
	// computed over, in seconds.
	Interval float64       `json:"interval"`
	Window   float64       `json:"window"`
	Domain   string        `json:"domain"`
	Policy   string        `json:"policy"`
	Site     Figures       `json:"site"`
	Tiers    []TierState   `json:"tiers"`
	Servers  []ServerState `json:"servers"`
	Flows    []FlowState   `json:"flows"`
	Alerts   []Alert       `json:"alerts"`
	Resolved []Alert       `json:"resolved"`
	Findings []Finding     `json:"findings"`
	Memory   MemoryState   `json:"memory"`
}

// TierState is one role across the servers that carry it.
type TierState struct {
	Role    string `json:"role"`
	Servers int    `json:"servers"`
	Up      int    `json:"up"`
	Figures
}

// Server health.
const (
	Up      = "up"
	Down    = "down"
	Unknown = "unknown" // not scraped yet, or its monitoring client is off
)

// ServerState is one server now.
type ServerState struct {
	Name    string   `json:"name"`
	Address string   `json:"address"`
	Roles   []string `json:"roles"`
	Health  string   `json:"health"`
	// Error is why the last scrape failed.
	Error string `json:"error,omitempty"`
	// LastSeen is the last successful scrape.
	LastSeen *time.Time `json:"last_seen,omitempty"`
	// Front is the role whose figures head the server: the first that
	// traffic meets.
	Front string `json:"front,omitempty"`
	Figures
	ByRole map[string]Figures `json:"by_role,omitempty"`
	// CPU is the cores its rampart process uses, Memory its resident
	// bytes; HostCPU and HostMemory the host's busy and used fractions.
	CPU        Num `json:"cpu"`
	Memory     Num `json:"memory"`
	HostCPU    Num `json:"host_cpu"`
	HostMemory Num `json:"host_memory"`
	// DBQPS is the database's queries per second, when the db role
	// reports them.
	DBQPS  Num `json:"db_qps"`
	Firing int `json:"firing"`
}

// Flow states.
const (
	FlowOK      = "ok"
	FlowDown    = "down"    // the caller's health check fails it
	FlowEjected = "ejected" // the caller took it out after a failed request
	FlowUnknown = "unknown"
)

// FlowState is one edge of the diagram now.
type FlowState struct {
	ID    string `json:"id"`
	QPS   Num    `json:"qps"`
	State string `json:"state"`
}

// MemoryState is the history's size against its bound.
type MemoryState struct {
	Bound   int64 `json:"bound"`
	Series  int   `json:"series"`
	Dropped int64 `json:"dropped"`
}

// figureWindow is the span the current figures are computed over: long
// enough to hold a few scrapes, short enough to follow a change of load.
func (c *Collector) figureWindow() time.Duration {
	return max(10*time.Second, 2*c.cfg.Interval)
}

// State computes the site's state now.
func (c *Collector) State() State {
	t := c.topo
	st := State{Now: time.Now(), Interval: c.cfg.Interval.Seconds(), Window: c.figureWindow().Seconds(),
		Domain: t.Site.Domain, Policy: string(t.TLS.Policy)}
	active := c.alerts.Active()
	st.Alerts, st.Resolved = active, c.alerts.Resolved()
	if c.cfg.Findings != nil {
		st.Findings = c.cfg.Findings()
	}
	stats := c.store.Stats()
	st.Memory = MemoryState{Bound: c.store.MemoryBound(), Series: stats.Series, Dropped: int64(stats.Dropped)}
	health := map[string]string{}
	c.store.read(func(r reader) {
		idx := r.last(int(c.figureWindow()/c.cfg.Interval) + 1)
		lastSlot := -1
		if len(idx) > 0 {
			lastSlot = idx[len(idx)-1]
		}
		for _, s := range t.Servers {
			ss := ServerState{Name: s.Name, Address: s.Address, Health: Unknown, ByRole: map[string]Figures{}}
			for _, role := range s.Roles {
				ss.Roles = append(ss.Roles, string(role))
			}
			for _, al := range active {
				if al.State == Firing && al.Labels["server"] == s.Name {
					ss.Firing++
				}
			}
			ss.Figures = Figures{QPS: nan(), P50: nan(), P99: nan(), ErrorRatio: nan(), Requests: nan()}
			ss.CPU, ss.Memory, ss.HostCPU, ss.HostMemory, ss.DBQPS = nan(), nan(), nan(), nan(), nan()
			h := r.server(s.Name)
			if h == nil || lastSlot < 0 {
				st.Servers = append(st.Servers, ss)
				continue
			}
			if h.ok(lastSlot) {
				ss.Health = Up
			} else {
				ss.Health, ss.Error = Down, h.lastErr
			}
			for i := len(idx) - 1; i >= 0; i-- {
				if h.ok(idx[i]) {
					seen := time.UnixMilli(h.at[idx[i]])
					ss.LastSeen = &seen
					break
				}
			}
			if ss.Health == Down {
				// Its last scrape failed: its figures now are unknown (a
				// gap), not what the samples before the failure averaged.
				health[s.Name] = ss.Health
				st.Servers = append(st.Servers, ss)
				continue
			}
			for _, role := range httpRoles {
				if s.Has(topology.Role(role)) {
					f := figures([]*history{h}, role, idx)
					ss.ByRole[role] = f
					if ss.Front == "" {
						ss.Front, ss.Figures = role, f
					}
				}
			}
			at := h.times(idx)
			ss.CPU = Num(rateOver(at, h.counter(idx, metrics.ProcessCPUSeconds, all)))
			ss.Memory = Num(latest(h.gauge(idx, metrics.ProcessResident, all, sum)))
			busy := rateOver(at, h.counter(idx, metrics.HostCPUSeconds, func(ls []Label) bool {
				m := label(ls, metrics.LabelMode)
				return m != "idle" && m != "iowait"
			}))
			if total := rateOver(at, h.counter(idx, metrics.HostCPUSeconds, all)); total > 0 {
				ss.HostCPU = Num(busy / total)
			}
			memTotal := latest(h.gauge(idx, metrics.HostMemoryTotal, all, sum))
			if avail := latest(h.gauge(idx, metrics.HostMemoryAvailable, all, sum)); memTotal > 0 {
				ss.HostMemory = Num(1 - avail/memTotal)
			}
			if h.has(metrics.DBQuestions, "", "") {
				ss.DBQPS = Num(rateOver(at, h.counter(idx, metrics.DBQuestions, all)))
			}
			health[s.Name] = ss.Health
			st.Servers = append(st.Servers, ss)
		}
		for _, role := range httpRoles {
			var hs []*history
			tier := TierState{Role: role}
			for _, s := range t.WithRole(topology.Role(role)) {
				tier.Servers++
				if health[s.Name] == Up {
					tier.Up++
				}
				if h := r.server(s.Name); h != nil {
					hs = append(hs, h)
				}
			}
			if tier.Servers == 0 {
				continue
			}
			tier.Figures = figures(hs, role, idx)
			st.Tiers = append(st.Tiers, tier)
			if role == string(topology.RoleLB) {
				st.Site = tier.Figures // the site is what enters at its lbs
			}
		}
		for _, role := range []topology.Role{topology.RoleDB, topology.RoleMonitor} {
			tier := TierState{Role: string(role), Figures: Figures{QPS: nan(), P50: nan(), P99: nan(), ErrorRatio: nan(), Requests: nan()}}
			for _, s := range t.WithRole(role) {
				tier.Servers++
				if health[s.Name] == Up {
					tier.Up++
				}
			}
			if tier.Servers > 0 {
				st.Tiers = append(st.Tiers, tier)
			}
		}
		st.Flows = c.flowStates(r, idx, health)
	})
	return st
}

func nan() Num { return Num(math.NaN()) }

// flowStates computes each edge's traffic and state. The callers' own
// view of their backends gives both for lb -> web and web -> app; the
// monitor's scrapes give its own flows; the rest follow the health of the
// server they reach.
func (c *Collector) flowStates(r reader, idx []int, health map[string]string) []FlowState {
	var out []FlowState
	for _, e := range c.diagram.Edges {
		fs := FlowState{ID: e.ID, QPS: nan(), State: FlowUnknown}
		switch e.Service {
		case string(topology.ServiceHTTPS):
			if h := r.server(e.To); h != nil {
				fs.QPS = Num(rateOver(h.times(idx), h.counter(idx, metrics.HTTPRequests, with(metrics.LabelRole, string(topology.RoleLB)))))
			}
			fs.State = flowByHealth(health[e.To])
		case string(topology.ServiceWeb), string(topology.ServiceApp):
			h := r.server(e.From)
			if h == nil || len(idx) == 0 || !h.ok(idx[len(idx)-1]) {
				break
			}
			m := with(metrics.LabelService, e.Service, metrics.LabelBackend, e.To)
			fs.QPS = Num(rateOver(h.times(idx), h.counter(idx, metrics.BackendRequests, m)))
			last := idx[len(idx)-1:]
			up, ejected := latest(h.gauge(last, metrics.BackendUp, m, sum)), latest(h.gauge(last, metrics.BackendEjected, m, sum))
			switch {
			case ejected == 1:
				fs.State = FlowEjected
			case up == 0:
				fs.State = FlowDown
			case up == 1:
				fs.State = FlowOK
			}
		case string(topology.ServiceAdmin):
			if h := r.server(e.To); h != nil && len(idx) > 0 {
				fs.QPS = Num(1 / c.cfg.Interval.Seconds())
				if !h.ok(idx[len(idx)-1]) {
					fs.QPS = 0
				}
			}
			fs.State = flowByHealth(health[e.To])
		default:
			fs.State = flowByHealth(health[e.To])
		}
		out = append(out, fs)
	}
	return out
}

func flowByHealth(h string) string {
	switch h {
	case Up:
		return FlowOK
	case Down:
		return FlowDown
	}
	return FlowUnknown
}

// Ranges the charts offer.
var chartRanges = map[string]time.Duration{"15m": 15 * time.Minute, "1h": time.Hour}

// maxPoints is the most points a chart line gets; longer ranges average
// neighbouring rounds.
const maxPoints = 360

// Charts is the per-server history the dashboard charts.
type Charts struct {
	Range   string            `json:"range"`
	Times   []int64           `json:"times"` // unix ms, one per point
	Servers map[string]Series `json:"servers"`
}

// Charts computes the charts of every server over rng (15m or 1h).
func (c *Collector) Charts(rng string) Charts {
	d, ok := chartRanges[rng]
	if !ok {
		rng, d = "15m", chartRanges["15m"]
	}
	out := Charts{Range: rng, Times: []int64{}, Servers: map[string]Series{}}
	c.store.read(func(r reader) {
		idx := r.last(int(d/c.cfg.Interval) + 1)
		step := max(1, (len(idx)+maxPoints-1)/maxPoints)
		for _, slot := range idx {
			out.Times = append(out.Times, r.s.times[slot])
		}
		out.Times = thinTimes(out.Times, step)
		for _, s := range c.topo.Servers {
			h := r.server(s.Name)
			if h == nil {
				continue
			}
			front := ""
			for _, role := range httpRoles {
				if s.Has(topology.Role(role)) {
					front = role
					break
				}
			}
			se := serverSeries(h, front, idx)
			if front == "" {
				se.QPS, se.P50, se.P99, se.ErrorRatio = nil, nil, nil, nil
			}
			out.Servers[s.Name] = Series{QPS: thin(se.QPS, step), P50: thin(se.P50, step), P99: thin(se.P99, step),
				ErrorRatio: thin(se.ErrorRatio, step), CPU: thin(se.CPU, step), Memory: thin(se.Memory, step)}
		}
	})
	return out
}

// thin averages each run of step points; a run with no known point is a
// gap.
func thin(xs []Num, step int) []Num {
	if step <= 1 || xs == nil {
		return xs
	}
	var out []Num
	for i := 0; i < len(xs); i += step {
		var s float64
		n := 0
		for _, x := range xs[i:min(i+step, len(xs))] {
			if x.Known() {
				s += float64(x)
				n++
			}
		}
		if n == 0 {
			out = append(out, nan())
		} else {
			out = append(out, Num(s/float64(n)))
		}
	}
	return out
}

func thinTimes(ts []int64, step int) []int64 {
	if step <= 1 {
		return ts
	}
	var out []int64
	for i := 0; i < len(ts); i += step {
		out = append(out, ts[min(i+step, len(ts))-1])
	}
	return slices.Clip(out)
}
