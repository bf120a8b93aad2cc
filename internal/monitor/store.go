package monitor

import (
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// Label is one name="value" pair of a series.
type Label struct{ Name, Value string }

// Sample is one value of one series in a scrape.
type Sample struct {
	Name   string
	Labels []Label // sorted by name; the server label is left out
	Value  float64
}

// Scrape is what one round got from one server.
type Scrape struct {
	Server string
	// At is when the server read its counters: the middle of the request.
	At time.Time
	// Err is why the scrape failed; then Samples is empty and the round is
	// a gap in this server's history.
	Err     error
	Samples []Sample
}

// Store is the collector's history: for every server, one slot per scrape
// round over the retention, and in each slot the value of every series the
// server exported. It is a ring, so its memory is fixed once full.
//
// Memory bound: a server holds at most MaxSeries series; each keeps one
// float64 per slot, and a slot is kept for every round of the retention
// (Retention/Interval + 1). MemoryBound adds a fixed allowance per series
// for its name and labels. Series beyond MaxSeries are dropped and counted,
// and a series not seen for a whole retention is forgotten.
type Store struct {
	mu        sync.RWMutex
	slots     int
	maxSeries int
	next      int     // slot the next round goes to
	rounds    int     // rounds appended since the start
	times     []int64 // round start, unix ms; 0 = slot never written
	servers   []*history
	byName    map[string]*history
	dropped   uint64
}

// history is one server's part of the store.
type history struct {
	name    string
	at      []int64 // when the server read its counters, unix ms; 0 = gap
	lastErr string
	series  map[string]*series
}

// series is one time series of one server. vals shares its slot index with
// the store's times.
type series struct {
	name   string
	labels []Label
	vals   []float64 // NaN where the series was absent or the scrape failed
	seen   int       // the round it was last present in
}

// seriesAllowance is what MemoryBound counts per series on top of its
// values: the struct, the map entry, the key, the name and the labels. A
// key longer than maxKeyBytes is dropped, so this holds.
const (
	seriesAllowance = 2048
	maxKeyBytes     = 384
)

// DefaultMaxSeries is the per-server series limit. A server exports about
// 150 series the collector keeps; the rest is headroom for many backends,
// disks and network interfaces.
const DefaultMaxSeries = 500

// NewStore returns a store for servers, keeping slots rounds of history.
func NewStore(servers []string, slots, maxSeries int) *Store {
	if slots < 2 {
		slots = 2
	}
	if maxSeries <= 0 {
		maxSeries = DefaultMaxSeries
	}
	s := &Store{slots: slots, maxSeries: maxSeries, times: make([]int64, slots), byName: map[string]*history{}}
	for _, name := range servers {
		h := &history{name: name, at: make([]int64, slots), series: map[string]*series{}}
		s.servers = append(s.servers, h)
		s.byName[name] = h
	}
	return s
}

// SlotsFor is the number of slots that keeps retention at interval: one
// per round, plus the round that the oldest rate starts from.
func SlotsFor(retention, interval time.Duration) int {
	return int((retention+interval-1)/interval) + 1
}

// MemoryBound is the most memory the store's history may use, in bytes.
func (s *Store) MemoryBound() int64 {
	perServer := int64(s.slots)*8 + int64(s.maxSeries)*(int64(s.slots)*8+seriesAllowance)
	return int64(s.slots)*8 + int64(len(s.servers))*perServer
}

// Append records one round: its start time and what each server gave.
// Servers missing from scrapes get a gap.
func (s *Store) Append(round time.Time, scrapes []Scrape) {
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := s.next
	s.times[slot] = round.UnixMilli()
	got := make(map[string]*Scrape, len(scrapes))
	for i := range scrapes {
		got[scrapes[i].Server] = &scrapes[i]
	}
	for _, h := range s.servers {
		for _, se := range h.series {
			se.vals[slot] = math.NaN()
		}
		sc := got[h.name]
		if sc == nil || sc.Err != nil {
			h.at[slot] = 0
			if sc != nil {
				h.lastErr = sc.Err.Error()
			} else {
				h.lastErr = "not scraped"
			}
			continue
		}
		h.at[slot] = max(sc.At.UnixMilli(), 1)
		h.lastErr = ""
		var key strings.Builder
		for _, smp := range sc.Samples {
			key.Reset()
			writeKey(&key, smp.Name, smp.Labels)
			k := key.String()
			se := h.series[k]
			if se == nil {
				if len(h.series) >= s.maxSeries || len(k) > maxKeyBytes {
					s.dropped++
					continue
				}
				se = &series{name: smp.Name, labels: smp.Labels, vals: make([]float64, s.slots)}
				for i := range se.vals {
					se.vals[i] = math.NaN()
				}
				h.series[k] = se
			}
			se.vals[slot] = smp.Value
			se.seen = s.rounds
		}
		// Forget series gone for a whole retention, so churn cannot grow
		// the store.
		for k, se := range h.series {
			if s.rounds-se.seen >= s.slots {
				delete(h.series, k)
			}
		}
	}
	s.next = (slot + 1) % s.slots
	s.rounds++
}

func writeKey(b *strings.Builder, name string, labels []Label) {
	b.WriteString(name)
	b.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name)
		b.WriteString(`="`)
		b.WriteString(l.Value)
		b.WriteByte('"')
	}
	b.WriteByte('}')
}

// Stats are the store's figures, for its own metrics.
type Stats struct {
	Series  int
	Dropped uint64
	Rounds  int
}

// Stats returns how full the store is.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Dropped: s.dropped, Rounds: s.rounds}
	for _, h := range s.servers {
		st.Series += len(h.series)
	}
	return st
}

// sortLabels sorts labels by name, in place.
func sortLabels(ls []Label) {
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
}

// label returns the value of label name, or "".
func label(ls []Label, name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}
