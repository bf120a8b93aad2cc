package monitor

import (
	"math"
	"slices"
	"sort"
	"strconv"
)

// A reader is a consistent view of the store. Its methods need s.mu held
// for reading; Store.read takes it.
type reader struct{ s *Store }

func (s *Store) read(fn func(r reader)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(reader{s})
}

// last returns the slots of the most recent n rounds that were written,
// oldest first.
func (r reader) last(n int) []int {
	s := r.s
	n = min(n, s.rounds, s.slots)
	idx := make([]int, n)
	for i := range n {
		idx[i] = ((s.next-n+i)%s.slots + s.slots) % s.slots
	}
	return idx
}

func (r reader) server(name string) *history { return r.s.byName[name] }

// matcher selects series by their labels.
type matcher func(ls []Label) bool

func all(ls []Label) bool { return true }

// with selects series that have every given name=value pair.
func with(pairs ...string) matcher {
	return func(ls []Label) bool {
		for i := 0; i+1 < len(pairs); i += 2 {
			if label(ls, pairs[i]) != pairs[i+1] {
				return false
			}
		}
		return true
	}
}

// ok reports whether the server's scrape in slot succeeded.
func (h *history) ok(slot int) bool { return h.at[slot] != 0 }

// counter sums the counter series called name that match m, in each of
// the slots idx. A series absent from a successful scrape counts as zero,
// since rampart creates a counter the first time it counts; a failed
// scrape is NaN, a gap.
func (h *history) counter(idx []int, name string, m matcher) []float64 {
	out := make([]float64, len(idx))
	for i, slot := range idx {
		if !h.ok(slot) {
			out[i] = math.NaN()
		}
	}
	for _, se := range h.series {
		if se.name != name || !m(se.labels) {
			continue
		}
		for i, slot := range idx {
			if v := se.vals[slot]; !math.IsNaN(v) && !math.IsNaN(out[i]) {
				out[i] += v
			}
		}
	}
	return out
}

// gauge combines the gauge series called name that match m in each slot
// with agg (sum, min or max). A slot where no series is present is NaN.
func (h *history) gauge(idx []int, name string, m matcher, agg func(a, b float64) float64) []float64 {
	out := make([]float64, len(idx))
	for i := range out {
		out[i] = math.NaN()
	}
	for _, se := range h.series {
		if se.name != name || !m(se.labels) {
			continue
		}
		for i, slot := range idx {
			v := se.vals[slot]
			switch {
			case math.IsNaN(v) || !h.ok(slot):
			case math.IsNaN(out[i]):
				out[i] = v
			default:
				out[i] = agg(out[i], v)
			}
		}
	}
	return out
}

func sum(a, b float64) float64 { return a + b }

// histogram returns the cumulative bucket counters of the histogram called
// name (its _bucket series) matching m, summed by upper bound: les in
// ascending order, +Inf last, and counts[j] per slot for les[j].
func (h *history) histogram(idx []int, name string, m matcher) (les []float64, counts [][]float64) {
	byLE := map[float64]int{}
	bucket := name + "_bucket"
	for _, se := range h.series {
		if se.name != bucket || !m(se.labels) {
			continue
		}
		le, err := strconv.ParseFloat(label(se.labels, "le"), 64)
		if err != nil {
			continue
		}
		if _, ok := byLE[le]; !ok {
			byLE[le] = len(les)
			les = append(les, le)
		}
	}
	sort.Float64s(les)
	for j, le := range les {
		byLE[le] = j
	}
	counts = make([][]float64, len(les))
	for j := range counts {
		counts[j] = h.counter(idx, bucket, func(ls []Label) bool {
			le, err := strconv.ParseFloat(label(ls, "le"), 64)
			return err == nil && le == les[j] && m(ls)
		})
	}
	return les, counts
}

// increase is how much counter c grew from slot i-1 to slot i. A drop means
// the process restarted and counted from zero again.
func increase(prev, cur float64) float64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// rates turns a counter into the rate per second between each slot and the
// one before it, using the servers' own sample times. The first slot, and
// any slot next to a gap, is NaN.
func rates(at []int64, c []float64) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = math.NaN()
		if i == 0 || math.IsNaN(c[i]) || math.IsNaN(c[i-1]) || at[i] <= at[i-1] {
			continue
		}
		out[i] = increase(c[i-1], c[i]) / (float64(at[i]-at[i-1]) / 1000)
	}
	return out
}

// rateOver is a counter's rate over the whole window: its increase from
// the first sample to the last, over the time between them, as Prometheus's
// rate() does. A lost scrape inside the window costs resolution, not
// truth: the counter still counted. It is NaN when the window holds fewer
// than two samples.
func rateOver(at []int64, c []float64) float64 {
	inc, span := increaseOver(at, c)
	if span == 0 {
		return math.NaN()
	}
	return inc / span
}

// increaseOver returns the counter's increase across the window's samples,
// lost scrapes skipped, and the seconds from the first to the last.
func increaseOver(at []int64, c []float64) (inc, seconds float64) {
	prev := -1
	for i := range c {
		if math.IsNaN(c[i]) {
			continue
		}
		if prev >= 0 && at[i] > at[prev] {
			inc += increase(c[prev], c[i])
			seconds += float64(at[i]-at[prev]) / 1000
		}
		prev = i
	}
	return inc, seconds
}

// times returns the server's sample times in the slots idx.
func (h *history) times(idx []int) []int64 {
	out := make([]int64, len(idx))
	for i, slot := range idx {
		out[i] = h.at[slot]
	}
	return out
}

// latest returns the last value of xs that is not NaN, or NaN.
func latest(xs []float64) float64 {
	for i := len(xs) - 1; i >= 0; i-- {
		if !math.IsNaN(xs[i]) {
			return xs[i]
		}
	}
	return math.NaN()
}

// quantile estimates the q-quantile from cumulative bucket counts, as
// Prometheus's histogram_quantile does: linear interpolation within the
// bucket that holds the rank, and the highest finite bound when the rank
// falls in the +Inf bucket. It is NaN when there are no observations.
func quantile(q float64, les, cum []float64) float64 {
	if len(les) < 2 || math.IsNaN(q) || !math.IsInf(les[len(les)-1], 1) {
		return math.NaN()
	}
	// A bucket counted later than a smaller one can read a little lower;
	// make the counts monotonic as Prometheus does.
	cum = slices.Clone(cum)
	for i := 1; i < len(cum); i++ {
		cum[i] = max(cum[i], cum[i-1])
	}
	total := cum[len(cum)-1]
	if total == 0 || math.IsNaN(total) {
		return math.NaN()
	}
	rank := q * total
	b := sort.Search(len(cum)-1, func(i int) bool { return cum[i] >= rank })
	if b == len(les)-1 {
		return les[len(les)-2]
	}
	start, countBefore := 0.0, 0.0
	if b > 0 {
		start, countBefore = les[b-1], cum[b-1]
	}
	inBucket := cum[b] - countBefore
	if inBucket == 0 {
		return les[b]
	}
	return start + (les[b]-start)*(rank-countBefore)/inBucket
}

// histIncrease returns each bucket's increase over the window's successful
// pairs.
func histIncrease(at []int64, counts [][]float64) []float64 {
	out := make([]float64, len(counts))
	for j, c := range counts {
		out[j], _ = increaseOver(at, c)
	}
	return out
}

// histRates returns, per slot, the bucket increases since the slot before:
// nil where either is a gap.
func histSteps(at []int64, counts [][]float64) [][]float64 {
	if len(counts) == 0 {
		return nil
	}
	n := len(counts[0])
	out := make([][]float64, n)
	for i := 1; i < n; i++ {
		if at[i] <= at[i-1] {
			continue
		}
		step := make([]float64, len(counts))
		okStep := true
		for j := range counts {
			if math.IsNaN(counts[j][i]) || math.IsNaN(counts[j][i-1]) {
				okStep = false
				break
			}
			step[j] = increase(counts[j][i-1], counts[j][i])
		}
		if okStep {
			out[i] = step
		}
	}
	return out
}
