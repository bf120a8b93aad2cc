package monitor

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/metrics"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// requests is a scrape of a server whose lb role has answered n requests,
// taken at the round's time.
func requests(server string, round time.Time, n float64) Scrape {
	return Scrape{Server: server, At: round, Samples: []Sample{
		{Name: metrics.HTTPRequests, Labels: []Label{{"code_class", "2xx"}, {"method", "GET"}, {"role", "lb"}}, Value: n},
	}}
}

func lost(server string, round time.Time) Scrape {
	return Scrape{Server: server, At: round, Err: errors.New("connection refused")}
}

// fill appends one round per value of counts, one second apart; NaN is a
// lost scrape.
func fill(s *Store, server string, counts ...float64) {
	for i, n := range counts {
		at := t0.Add(time.Duration(i) * time.Second)
		if math.IsNaN(n) {
			s.Append(at, []Scrape{lost(server, at)})
		} else {
			s.Append(at, []Scrape{requests(server, at, n)})
		}
	}
}

func qpsOver(s *Store, server string, n int) (rates []float64, over float64) {
	s.read(func(r reader) {
		h := r.server(server)
		idx := r.last(n)
		c := h.counter(idx, metrics.HTTPRequests, with("role", "lb"))
		rates = ratesOf(h.times(idx), c)
		over = rateOver(h.times(idx), c)
	})
	return rates, over
}

var ratesOf = rates

func TestALostScrapeIsAGapNeverZero(t *testing.T) {
	s := NewStore([]string{"lb-1"}, 10, 0)
	nan := math.NaN()
	fill(s, "lb-1", 0, 10, nan, 30, 40)
	rs, over := qpsOver(s, "lb-1", 5)
	want := []float64{nan, 10, nan, nan, 10}
	for i := range want {
		if math.IsNaN(want[i]) != math.IsNaN(rs[i]) || (!math.IsNaN(want[i]) && rs[i] != want[i]) {
			t.Fatalf("rates %v, want %v: the rounds beside a lost scrape must be gaps", rs, want)
		}
	}
	if over != 10 {
		t.Errorf("rate over the window = %v, want 10: the counter counted through the lost scrape", over)
	}
	// A window of nothing but lost scrapes has no rate at all, not 0.
	fill(s, "lb-1", nan, nan, nan)
	if _, over := qpsOver(s, "lb-1", 3); !math.IsNaN(over) {
		t.Errorf("rate over lost scrapes = %v, want NaN", over)
	}
}

func TestARestartedCounterCountsFromZero(t *testing.T) {
	s := NewStore([]string{"lb-1"}, 10, 0)
	fill(s, "lb-1", 100, 110, 5, 15)
	rs, over := qpsOver(s, "lb-1", 4)
	if rs[2] != 5 || rs[3] != 10 {
		t.Errorf("rates %v: after a restart the new count is the increase", rs)
	}
	if over != 25.0/3 {
		t.Errorf("rate over the window = %v, want %v", over, 25.0/3)
	}
}

func TestACounterFirstSeenCountsFromZero(t *testing.T) {
	// rampart creates a counter the first time it counts: a series that
	// appears with 3 in a successful scrape counted 3 since the last one.
	s := NewStore([]string{"lb-1"}, 10, 0)
	s.Append(t0, []Scrape{{Server: "lb-1", At: t0, Samples: []Sample{{Name: "rampart_server_info", Value: 1}}}})
	s.Append(t0.Add(time.Second), []Scrape{requests("lb-1", t0.Add(time.Second), 3)})
	if _, over := qpsOver(s, "lb-1", 2); over != 3 {
		t.Errorf("rate = %v, want 3", over)
	}
}

func TestRatesUseTheServersOwnSampleTimes(t *testing.T) {
	s := NewStore([]string{"lb-1"}, 10, 0)
	// The rounds start a second apart but the second scrape answered late.
	s.Append(t0, []Scrape{requests("lb-1", t0, 0)})
	s.Append(t0.Add(time.Second), []Scrape{requests("lb-1", t0.Add(1250*time.Millisecond), 125)})
	if _, over := qpsOver(s, "lb-1", 2); over != 100 {
		t.Errorf("rate = %v, want 100 over the 1.25s between the samples", over)
	}
}

func TestTheRingKeepsOnlyTheRetention(t *testing.T) {
	s := NewStore([]string{"lb-1"}, 4, 0)
	fill(s, "lb-1", 0, 1, 2, 3, 4, 5, 6)
	var got []float64
	s.read(func(r reader) {
		idx := r.last(100)
		got = r.server("lb-1").counter(idx, metrics.HTTPRequests, all)
	})
	if fmt.Sprint(got) != "[3 4 5 6]" {
		t.Errorf("history %v, want the last 4 rounds", got)
	}
}

func TestSeriesBeyondTheLimitAreDroppedAndCounted(t *testing.T) {
	s := NewStore([]string{"web-1"}, 4, 10)
	var smp []Sample
	for i := range 25 {
		smp = append(smp, Sample{Name: "rampart_x", Labels: []Label{{"i", fmt.Sprint(i)}}, Value: 1})
	}
	s.Append(t0, []Scrape{{Server: "web-1", At: t0, Samples: smp}})
	st := s.Stats()
	if st.Series != 10 || st.Dropped != 15 {
		t.Errorf("%d series kept, %d dropped; want 10 and 15", st.Series, st.Dropped)
	}
}

func TestSeriesGoneForTheRetentionAreForgotten(t *testing.T) {
	s := NewStore([]string{"web-1"}, 3, 0)
	s.Append(t0, []Scrape{{Server: "web-1", At: t0, Samples: []Sample{{Name: "rampart_old", Value: 1}}}})
	for i := 1; i <= 3; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		s.Append(at, []Scrape{{Server: "web-1", At: at, Samples: []Sample{{Name: "rampart_new", Value: 1}}}})
	}
	if st := s.Stats(); st.Series != 1 {
		t.Errorf("%d series, want only the one still exported", st.Series)
	}
}

// TestMemoryStaysWithinItsBound fills a store for eight servers at the
// defaults (one hour at 5s) with more series than the limit, churning
// label values every round, and measures the heap it holds.
func TestMemoryStaysWithinItsBound(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a full store")
	}
	servers := []string{"lb-1", "lb-2", "app-1", "app-2", "db-1", "db-2", "db-3", "monitor-1"}
	slots := SlotsFor(time.Hour, 5*time.Second)
	// Label values as long as a key may be, so the allowance is tested.
	pad := fmt.Sprintf("%0200d", 0)
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	s := NewStore(servers, slots, DefaultMaxSeries)
	for round := range slots + 5 {
		at := t0.Add(time.Duration(round) * 5 * time.Second)
		var scrapes []Scrape
		for _, name := range servers {
			var smp []Sample
			for i := range DefaultMaxSeries + 100 {
				// A tenth of the series change name each round: churn.
				id := fmt.Sprint(i)
				if i%10 == 0 {
					id = fmt.Sprintf("%d-%d", i, round)
				}
				smp = append(smp, Sample{Name: "rampart_series_with_a_long_name_total",
					Labels: []Label{{"backend", pad}, {"id", id}}, Value: float64(round)})
			}
			scrapes = append(scrapes, Scrape{Server: name, At: at, Samples: smp})
		}
		s.Append(at, scrapes)
	}
	used := heap() - before
	bound := s.MemoryBound()
	t.Logf("%d servers, %d slots, %d series each: %.1f MiB used, bound %.1f MiB",
		len(servers), slots, DefaultMaxSeries, float64(used)/(1<<20), float64(bound)/(1<<20))
	if used > uint64(bound) {
		t.Errorf("the store uses %d bytes, over its bound of %d", used, bound)
	}
	if st := s.Stats(); st.Series > len(servers)*DefaultMaxSeries {
		t.Errorf("%d series held, over the limit", st.Series)
	}
	runtime.KeepAlive(s)
}
