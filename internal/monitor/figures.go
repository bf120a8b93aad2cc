package monitor

import (
	"math"
	"sort"
	"strconv"

	"github.com/rampart-dev/rampart/internal/metrics"
)

// Num is a figure that may be unknown. NaN is written as JSON null, so the
// dashboard shows a gap, never a zero it did not measure.
type Num float64

func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	// As encoding/json writes floats: plain decimals, exponents only for
	// the very small and the very large.
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(nil, f, format, -1, 64), nil
}

// UnmarshalJSON reads null back as NaN, so a client of the API keeps the
// gap.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	*n = Num(f)
	return err
}

// Known reports whether the figure was measured.
func (n Num) Known() bool { return !math.IsNaN(float64(n)) && !math.IsInf(float64(n), 0) }

func nums(xs []float64) []Num {
	out := make([]Num, len(xs))
	for i, x := range xs {
		out[i] = Num(x)
	}
	return out
}

// Figures are the request figures of a role on some servers over a window.
type Figures struct {
	// QPS is requests per second.
	QPS Num `json:"qps"`
	// P50 and P99 are latency percentiles in seconds.
	P50 Num `json:"p50"`
	P99 Num `json:"p99"`
	// ErrorRatio is the share of 5xx answers.
	ErrorRatio Num `json:"error_ratio"`
	// Requests is the total the servers' counters hold now.
	Requests Num `json:"requests"`
	// From and To are the first and last sample times (Unix ms) the
	// figures span: the servers' own reading times.
	From int64 `json:"from,omitempty"`
	To   int64 `json:"to,omitempty"`
}

// figures computes the figures of role over the servers hs in the slots
// idx. A server with no successful pair of scrapes in the window adds
// nothing; when none has, the figure is unknown.
func figures(hs []*history, role string, idx []int) Figures {
	qps, total := math.NaN(), math.NaN()
	var errInc, allInc float64
	var from, to int64
	hist := map[float64]float64{}
	for _, h := range hs {
		at := h.times(idx)
		c := h.counter(idx, metrics.HTTPRequests, with(metrics.LabelRole, role))
		for i := range c {
			if !math.IsNaN(c[i]) {
				if from == 0 || at[i] < from {
					from = at[i]
				}
				to = max(to, at[i])
			}
		}
		if r := rateOver(at, c); !math.IsNaN(r) {
			qps = nanSum(qps, r)
		}
		if v := latest(c); !math.IsNaN(v) {
			total = nanSum(total, v)
		}
		inc, _ := increaseOver(at, c)
		allInc += inc
		e := h.counter(idx, metrics.HTTPRequests, with(metrics.LabelRole, role, metrics.LabelCodeClass, "5xx"))
		einc, _ := increaseOver(at, e)
		errInc += einc
		les, counts := h.histogram(idx, metrics.HTTPRequestDuration, with(metrics.LabelRole, role))
		for j, v := range histIncrease(at, counts) {
			hist[les[j]] += v
		}
	}
	f := Figures{QPS: Num(qps), Requests: Num(total), ErrorRatio: Num(math.NaN()), From: from, To: to}
	if allInc > 0 {
		f.ErrorRatio = Num(errInc / allInc)
	}
	les, cum := sortedBuckets(hist)
	f.P50 = Num(quantile(0.5, les, cum))
	f.P99 = Num(quantile(0.99, les, cum))
	return f
}

func nanSum(a, b float64) float64 {
	if math.IsNaN(a) {
		return b
	}
	return a + b
}

func sortedBuckets(m map[float64]float64) (les, cum []float64) {
	for le := range m {
		les = append(les, le)
	}
	sort.Float64s(les)
	for _, le := range les {
		cum = append(cum, m[le])
	}
	return les, cum
}

// Series are a server's charts: one value per scrape round, oldest first,
// null where a scrape was lost.
type Series struct {
	QPS        []Num `json:"qps"`
	P50        []Num `json:"p50"`
	P99        []Num `json:"p99"`
	ErrorRatio []Num `json:"error_ratio"`
	// CPU is the cores the server's rampart process uses; Memory its
	// resident memory in bytes.
	CPU    []Num `json:"cpu"`
	Memory []Num `json:"memory"`
}

// series computes the charts of a server whose figures are those of role.
func serverSeries(h *history, role string, idx []int) Series {
	at := h.times(idx)
	c := h.counter(idx, metrics.HTTPRequests, with(metrics.LabelRole, role))
	e := h.counter(idx, metrics.HTTPRequests, with(metrics.LabelRole, role, metrics.LabelCodeClass, "5xx"))
	s := Series{QPS: nums(rates(at, c))}
	s.ErrorRatio = make([]Num, len(idx))
	for i := range idx {
		s.ErrorRatio[i] = Num(math.NaN())
		if i > 0 && !math.IsNaN(c[i]) && !math.IsNaN(c[i-1]) && !math.IsNaN(e[i]) && !math.IsNaN(e[i-1]) {
			if all := increase(c[i-1], c[i]); all > 0 {
				s.ErrorRatio[i] = Num(increase(e[i-1], e[i]) / all)
			}
		}
	}
	les, counts := h.histogram(idx, metrics.HTTPRequestDuration, with(metrics.LabelRole, role))
	steps := histSteps(at, counts)
	s.P50, s.P99 = make([]Num, len(idx)), make([]Num, len(idx))
	for i := range idx {
		s.P50[i], s.P99[i] = Num(math.NaN()), Num(math.NaN())
		if i < len(steps) && steps[i] != nil {
			s.P50[i] = Num(quantile(0.5, les, steps[i]))
			s.P99[i] = Num(quantile(0.99, les, steps[i]))
		}
	}
	s.CPU = nums(rates(at, h.counter(idx, metrics.ProcessCPUSeconds, all)))
	s.Memory = nums(h.gauge(idx, metrics.ProcessResident, all, sum))
	return s
}
